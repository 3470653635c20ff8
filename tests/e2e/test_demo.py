"""`python -m offline.demo` end to end, as `make demo` runs it: in its own process, on moto and the emulator.

A subprocess, not an import: the demo sets its own environment before boto3 and Powertools load, and its
exit code and plain (non-terminal) output are part of what it promises.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPARK_CHARACTERS = set("▁▂▃▄▅▆▇█")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    output_dir = tmp_path_factory.mktemp("demo-output")
    finished = subprocess.run(
        [sys.executable, "-m", "offline.demo", "--output-dir", str(output_dir)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        encoding="utf-8",
        # The demo synthesizes the stack first (jsii, cdk-nag): tens of seconds on a loaded two-core machine.
        timeout=600,
        check=False,
    )
    return finished, output_dir


def _line(stdout: str, pattern: str) -> re.Match[str]:
    match = re.search(pattern, stdout, re.MULTILINE)
    assert match, f"no line matches {pattern!r} in:\n{stdout}"
    return match


RULE = re.compile(r"^─+ (.+?) ─+$", re.MULTILINE)
MAIN_RUN = "Distillation from the invocation logs"
UPLOAD = "An upload starts a run"
FORGOTTEN_PT = "A forgotten Provisioned Throughput"
CHECK = "Check"


def _section(stdout: str, title: str) -> str:
    """The lines between the rule titled `title` and the next rule."""
    rules = list(RULE.finditer(stdout))
    for rule, following in zip(rules, [*rules[1:], None], strict=True):
        if rule.group(1) == title:
            return stdout[rule.end() : following.start() if following else len(stdout)]
    raise AssertionError(f"no section {title!r} in:\n{stdout}")


def test_demo_succeeds_and_leaves_no_provisioned_throughput(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    finished, _ = demo_run
    assert finished.returncode == 0, finished.stdout + finished.stderr
    _line(finished.stdout, r"^Execution: SUCCEEDED \(arn:aws:states:")
    check = _section(finished.stdout, CHECK)
    # One PT per run (main, upload, stopped), every one deleted; the check comes after every scene.
    checked = _line(check, r"^Checked: no Provisioned Throughput left \((\d+) created, \1 deleted\)$")
    assert checked.group(1) == "3"
    _line(check, r"^Demo finished in [\d.]+ s wall time, exit code 0$")


def test_every_call_of_the_demo_was_authorized_against_the_synthesized_roles(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    stdout = demo_run[0].stdout
    _line(stdout, r"^Synthesized the stack for us-west-2 \(\d+ resources, \d+ IAM roles, cdk-nag clean\)")
    iam = _line(
        _section(stdout, CHECK),
        r"^IAM: (\d+) requests authorized against the synthesized policies of (\d+) callers .*, (\d+) denied$",
    )
    authorized, callers, denied = (int(iam.group(i)) for i in (1, 2, 3))
    # Every function that ran, and the service role the jobs ran as, were checked; none was refused.
    assert authorized > 100
    assert callers >= 12
    assert denied == 0


def test_the_job_wait_is_released_by_the_jobs_event_not_by_polling(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    stdout = demo_run[0].stdout
    _line(
        stdout,
        r"^Job wait: released by the job's Completed event \(job-events rule -> RelayJobEvent, released: True\)$",
    )
    cost = _line(
        stdout,
        r"^Job wait cost (\d+) state transitions \(WaitForJobEvent (\d+), GetJobStatus (\d+), JobCompleted\? (\d+)\) "
        r"for 8h 00m of training; the fallback poll \(every 3600 s\) fired (\d+) times$",
    )
    # One round of the cycle for an 8-hour job: one wait, one status read, one choice; no fallback poll.
    assert [int(cost.group(i)) for i in range(1, 6)] == [3, 1, 1, 1, 0]


def test_an_upload_starts_a_run_with_the_settings_uploaded_beside_it(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    upload = _section(demo_run[0].stdout, UPLOAD)
    settings = _line(upload, r"^Uploaded s3://\S+/datasets/incoming/(\S+)\.json: (\{.*\})$")
    dataset = _line(upload, r"^Uploaded s3://\S+/datasets/incoming/(\S+)\.jsonl: (\d+) records ")
    assert settings.group(1) == dataset.group(1)
    assert int(dataset.group(2)) >= 100
    assert settings.start() < dataset.start()  # the settings first, so the run finds them
    started = _line(upload, r"^Upload trigger started (upload-(\S+)-[0-9a-f]{16}) \(uploads rule -> StartFromUpload\)$")
    assert started.group(2) == dataset.group(1)
    _line(
        upload,
        r"^Settings applied from \S+\.json: the job trained meta\.llama3-2-1b-instruct-v1:0:128k, "
        r"its Provisioned Throughput had 2 model units$",
    )
    finished = _line(upload, r"^Upload run: (\w+) \(arn:aws:states:[^)]+:execution:[^:]+:(\S+)\); wall time")
    assert (finished.group(1), finished.group(2)) == ("SUCCEEDED", started.group(1))


def test_a_stopped_runs_pt_is_deleted_by_the_execution_end_rule_and_the_sweep_finds_nothing(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    scene = _section(demo_run[0].stdout, FORGOTTEN_PT)
    bought = _line(scene, r"^Provisioned Throughput bought: (arn:aws:bedrock:\S+:provisioned-model/\S+) \(")
    pt = bought.group(1)
    stopped = _line(scene, r"^Stopped support-summaries-forgotten-pt with StopExecution: ABORTED;")
    cleanup = _line(
        scene,
        r"^execution-ends rule \(its ABORTED status change\) -> CleanUpExecution: deleted 1 Provisioned "
        r"Throughput\(s\) \[\"(\S+)\"\], stopped 0 job\(s\); the PT is now Deleted$",
    )
    outcome = _line(
        scene,
        r"^Outcome message \(SNS\): ABORTED, cleanup deleted_provisioned_throughputs \[\"(\S+)\"\]; next step: .+$",
    )
    assert cleanup.group(1) == outcome.group(1) == pt
    sweep = _line(scene, r"^Sweep \(its hourly schedule, fired once now\): deleted 0, kept 0: nothing left$")
    assert bought.start() < stopped.start() < cleanup.start() < outcome.start() < sweep.start()


def test_each_run_sends_one_outcome_message(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    # The workflow reports its own two ends; the stopped run's is reported once, by the cleanup.
    messages = _line(_section(demo_run[0].stdout, CHECK), r"^Outcome messages on the topic: (.+)$").group(1)
    assert re.fullmatch(
        r"SUCCEEDED support-summaries-demo x1, SUCCEEDED upload-\S+ x1, ABORTED support-summaries-forgotten-pt x1",
        messages,
    ), messages


def test_summary_names_the_job_and_the_custom_model_it_produced(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    stdout = demo_run[0].stdout
    job = _line(stdout, r"^Job: (arn:aws:bedrock:[^:]+:\d{12}:model-customization-job/\S+) \((\w+)\)$")
    assert job.group(2) == "Completed"
    _line(stdout, r"^Custom model: arn:aws:bedrock:[^:]+:\d{12}:custom-model/\S+$")


def test_the_metadata_filter_selects_part_of_the_logged_traffic(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    data = _line(
        demo_run[0].stdout, r"^Training data: (\d+) logged invocations, (\d+) match the filter .*, (\d+) used$"
    )
    logged, matching, used = (int(data.group(i)) for i in (1, 2, 3))
    # Other splits and another team's prompts share the logs; the job trains on the filtered part only.
    assert 100 <= matching < logged
    assert used == matching


def test_training_loss_curve_is_a_png_and_a_sparkline(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    finished, output_dir = demo_run
    printed = Path(_line(finished.stdout, r"^Training-loss curve: (.+)$").group(1))
    assert printed == (output_dir / "training-loss.png").resolve()
    image = printed.read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    assert len(image) > 5_000  # a drawn chart, not an empty canvas
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")  # IHDR
    assert width > 100
    assert height > 100

    losses = _line(finished.stdout, r"^Training loss: ([\d.]+) -> ([\d.]+) over (\d+) steps$")
    assert float(losses.group(2)) < float(losses.group(1))
    spark = _line(finished.stdout, r"^  ([▁▂▃▄▅▆▇█]+)$").group(1)
    assert set(spark) <= SPARK_CHARACTERS
    assert len(spark) == min(int(losses.group(3)), 60)
    assert spark[0] == "█"  # the curve starts at its highest loss


def test_validation_figures_come_from_the_provisioned_model(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    validation = _line(
        demo_run[0].stdout,
        r"^Validation: (\d+)/(\d+) prompts succeeded, latency p50 (\d+) ms, p95 (\d+) ms, "
        r"mean similarity ([\d.]+) \((.+)\) against the teacher's answers$",
    )
    succeeded, prompts, p50, p95 = (int(validation.group(i)) for i in (1, 2, 3, 4))
    assert succeeded == prompts > 0
    assert 0 < p50 <= p95
    assert 0 < float(validation.group(5)) <= 100
    assert validation.group(6).startswith("chrF")


def test_cost_estimate_states_its_assumed_rate(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    cost = _line(
        demo_run[0].stdout,
        r"^Estimated Provisioned Throughput cost: \$([\d.]+) \(([\d.]+) h alive, .* x \$([\d.]+)/h: "
        r"assumed rate; see the Bedrock pricing page\)$",
    )
    assert float(cost.group(1)) > 0
    assert float(cost.group(2)) > 0


PROGRESS_LINE = re.compile(
    r"^\[\s*[\d.]+ s \| logical (?P<hours>\d+)h (?P<minutes>\d+)m\] execution (?P<execution>\w+), "
    r"state (?P<state>\S+), job (?P<job>.+), PT (?P<pt>.+)$",
    re.MULTILINE,
)


def test_progress_without_a_terminal_is_plain_lines_in_logical_time_order(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    stdout = demo_run[0].stdout
    assert "\x1b[" not in stdout  # no cursor movement or colour codes in CI logs
    # Bedrock's one clock runs through every scene: never backwards.
    every_line = [match.groupdict() for match in PROGRESS_LINE.finditer(stdout)]
    assert [_minutes(line) for line in every_line] == sorted(_minutes(line) for line in every_line)
    progress = [match.groupdict() for match in PROGRESS_LINE.finditer(_section(stdout, MAIN_RUN))]
    assert progress, stdout
    logical_minutes = [_minutes(line) for line in progress]
    assert logical_minutes[-1] > 0
    # While the execution waits for the job's event, the job's progress shows step by step.
    waiting = [line["job"] for line in progress if line["state"] == "WaitForJobEvent"]
    assert len(waiting) >= 5
    assert all(job.startswith("InProgress (") for job in waiting)
    last = progress[-1]
    assert (last["execution"], last["state"], last["job"], last["pt"]) == (
        "SUCCEEDED",
        "Succeeded",
        "Completed",
        "Deleted",
    )


def _minutes(line: dict[str, str]) -> int:
    return int(line["hours"]) * 60 + int(line["minutes"])
