"""`make demo` end to end, its printed figures held against the world's own records.

The demo runs once, in this process (`offline.demo.main.run_demo`, on moto and the Bedrock emulator, with the
hermetic environment of tests/conftest.py), printing as it does without a terminal. Every figure it prints about
jobs, Provisioned Throughputs, training data, validation and IAM is compared with what the emulator recorded
independently (its jobs, its Provisioned Throughputs, every Bedrock call it answered) and with every request the
IAM enforcer authorized: a figure the demo gets wrong, or a deletion that did not happen, fails here whatever the
demo prints. `python -m offline.demo` itself, as `make demo` runs it, is checked for its entry point and the
environment it sets before boto3 loads.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.workflow.run import EXECUTION_TAG_KEY
from offline.bedrock_emulator import BedrockEmulator, Job, ProvisionedThroughput
from offline.demo.environment import FORCED, isolate
from offline.demo.main import demo_console, parse_arguments, run_demo
from offline.iam.enforcer import Enforcer

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPARK_CHARACTERS = set("▁▂▃▄▅▆▇█")
MAIN_RUN_NAME = "support-summaries-demo"
FORGOTTEN_RUN_NAME = "support-summaries-forgotten-pt"
UPLOADED_STUDENT = "meta.llama3-2-1b-instruct-v1:0:128k"
TRAINING_SPLIT = {"project": "support-summaries", "split": "train"}
CREATE_PT = "CreateProvisionedModelThroughput"
DELETE_PT = "DeleteProvisionedModelThroughput"


@dataclass(frozen=True)
class Demo:
    """What the demo printed and returned, and lookups of the emulator's and the enforcer's own records."""

    stdout: str
    output_dir: Path
    exit_code: int
    bedrock: BedrockEmulator
    enforcer: Enforcer

    def job_of(self, execution_name: str) -> Job:
        """The one job the emulator holds for an execution, by the execution tag the workflow put on it."""
        jobs = [
            job
            for job in self.bedrock.jobs.values()
            if self.bedrock.tags_of(job.arn).get(EXECUTION_TAG_KEY, "").endswith(f":{execution_name}")
        ]
        assert len(jobs) == 1, f"{len(jobs)} jobs for {execution_name}"
        return jobs[0]

    def throughput_of(self, job: Job) -> ProvisionedThroughput:
        """The one Provisioned Throughput the emulator holds on the job's custom model."""
        throughputs = [
            pt for pt in self.bedrock.provisioned_throughputs.values() if pt.model_arn == job.output_model_arn
        ]
        assert len(throughputs) == 1, f"{len(throughputs)} PTs for {job.arn}"
        return throughputs[0]

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [call.params for call in self.bedrock.calls if call.operation == operation]

    def deletions_of(self, pt: ProvisionedThroughput) -> list[str]:
        """The functions whose DeleteProvisionedModelThroughput of `pt` IAM authorized, in order."""
        return [
            authorization.principal.session_name.rsplit("-", 1)[-1]
            for authorization in self.enforcer.authorizations
            if authorization.request.action == f"bedrock:{DELETE_PT}" and authorization.request.resource == pt.arn
        ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    output_dir = tmp_path_factory.mktemp("demo-output")
    printed = io.StringIO()  # not a terminal: plain lines, as in CI logs
    run = run_demo(parse_arguments(["--output-dir", str(output_dir)]), demo_console(printed))
    return Demo(printed.getvalue(), output_dir, run.exit_code, run.bedrock, run.enforcer)


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


def test_every_provisioned_throughput_the_demo_counts_was_created_and_deleted_in_the_emulator(demo: Demo) -> None:
    # Given the demo's three runs, when it has ended
    assert demo.exit_code == 0, demo.stdout
    _line(demo.stdout, rf"^Execution: SUCCEEDED \(arn:aws:states:\S+:execution:\S+:{MAIN_RUN_NAME}\)$")
    check = _section(demo.stdout, CHECK)
    checked = _line(check, r"^Checked: no Provisioned Throughput left \((\d+) created, (\d+) deleted\)$")
    _line(check, r"^Demo finished in [\d.]+ s wall time, exit code 0$")
    created, deleted = int(checked.group(1)), int(checked.group(2))

    # Then its counts are the emulator's: one PT bought per run, through one create call each, and every one
    # of them gone through a delete call of its own
    throughputs = list(demo.bedrock.provisioned_throughputs.values())
    jobs = list(demo.bedrock.jobs.values())
    executions = sorted(demo.bedrock.tags_of(job.arn)[EXECUTION_TAG_KEY].rsplit(":", 1)[-1] for job in jobs)
    assert len(demo.calls("CreateModelCustomizationJob")) == len(jobs) == 3
    main_run, forgotten_run, upload_run = executions
    assert (main_run, forgotten_run) == (MAIN_RUN_NAME, FORGOTTEN_RUN_NAME)
    assert upload_run.startswith("upload-")
    assert sorted(pt.arn for pt in throughputs) == sorted(demo.throughput_of(job).arn for job in jobs)
    assert created == len(throughputs) == len({call["provisionedModelName"] for call in demo.calls(CREATE_PT)}) == 3
    deleted_by_call = {
        pt.arn
        for pt in throughputs
        for call in demo.calls(DELETE_PT)
        if call["provisionedModelId"] in (pt.arn, pt.name)
    }
    assert deleted == sum(pt.deleted for pt in throughputs) == len(deleted_by_call) == 3
    assert demo.bedrock.live_provisioned_throughputs() == []


def test_every_call_of_the_demo_was_authorized_against_the_synthesized_roles(demo: Demo) -> None:
    _line(demo.stdout, r"^Synthesized the stack for us-west-2 \(\d+ resources, \d+ IAM roles, cdk-nag clean\)")
    iam = _line(
        _section(demo.stdout, CHECK),
        r"^IAM: (\d+) requests authorized against the synthesized policies of (\d+) callers .*, (\d+) denied$",
    )
    authorized, callers, denied = (int(iam.group(i)) for i in (1, 2, 3))
    # The figures are the enforcer's: every function that ran, and the service role the jobs ran as, were checked
    assert authorized == len(demo.enforcer.authorizations) > 100
    assert callers == len({a.principal.session_arn for a in demo.enforcer.authorizations}) >= 12
    assert denied == len(demo.enforcer.denials) == 0


def test_the_job_wait_is_released_by_the_jobs_event_not_by_polling(demo: Demo) -> None:
    _line(
        demo.stdout,
        r"^Job wait: released by the job's Completed event \(job-events rule -> RelayJobEvent, released: True\)$",
    )
    cost = _line(
        demo.stdout,
        r"^Job wait cost (\d+) state transitions \(WaitForJobEvent (\d+), GetJobStatus (\d+), JobCompleted\? (\d+)\) "
        r"for (\d+)h (\d+)m of training; the fallback poll \(every 3600 s\) fired (\d+) times$",
    )
    # One round of the cycle for an 8-hour job: one wait, one status read, one choice; no fallback poll.
    assert [int(cost.group(i)) for i in (1, 2, 3, 4, 7)] == [3, 1, 1, 1, 0]
    job = demo.job_of(MAIN_RUN_NAME)
    assert job.end_time is not None
    trained_minutes = int((job.end_time - job.created_at).total_seconds()) // 60
    assert int(cost.group(5)) * 60 + int(cost.group(6)) == trained_minutes == 8 * 60


def test_an_upload_starts_a_run_with_the_settings_uploaded_beside_it(demo: Demo) -> None:
    upload = _section(demo.stdout, UPLOAD)
    settings = _line(upload, r"^Uploaded s3://\S+/datasets/incoming/(\S+)\.json: (\{.*\})$")
    dataset = _line(upload, r"^Uploaded s3://\S+/datasets/incoming/(\S+)\.jsonl: (\d+) records ")
    assert settings.group(1) == dataset.group(1)
    assert settings.start() < dataset.start()  # the settings first, so the run finds them
    started = _line(upload, r"^Upload trigger started (upload-(\S+)-[0-9a-f]{16}) \(uploads rule -> StartFromUpload\)$")
    assert started.group(2) == dataset.group(1)
    applied = _line(
        upload,
        r"^Settings applied from \S+\.json: the job trained (\S+), its Provisioned Throughput had (\d+) model units$",
    )
    finished = _line(upload, r"^Upload run: (\w+) \(arn:aws:states:[^)]+:execution:[^:]+:(\S+)\); wall time")
    assert (finished.group(1), finished.group(2)) == ("SUCCEEDED", started.group(1))

    # The emulator ran the started execution's job on the uploaded settings' student, served by their units
    job = demo.job_of(started.group(1))
    throughput = demo.throughput_of(job)
    assert applied.group(1) == job.request["baseModelIdentifier"] == UPLOADED_STUDENT
    assert int(applied.group(2)) == throughput.model_units == 2
    # Every uploaded record reached the job, or the validation of its model, as a held-out prompt
    validated = [call for call in demo.calls("Converse") if call["modelId"] == throughput.arn]
    assert int(dataset.group(2)) == job.training_records + len(validated) >= 100


def test_a_stopped_runs_pt_is_deleted_by_the_execution_end_rule_and_the_sweep_finds_nothing(demo: Demo) -> None:
    scene = _section(demo.stdout, FORGOTTEN_PT)
    bought = _line(
        scene, r"^Provisioned Throughput bought: (arn:aws:bedrock:\S+:provisioned-model/\S+) \(\w+, (\d+) model unit"
    )
    stopped = _line(scene, rf"^Stopped {FORGOTTEN_RUN_NAME} with StopExecution: ABORTED;")
    cleanup = _line(
        scene,
        r"^execution-ends rule \(its ABORTED status change\) -> CleanUpExecution: deleted (\d+) Provisioned "
        r"Throughput\(s\) \[\"(\S+)\"\], stopped (\d+) job\(s\); the PT is now Deleted$",
    )
    outcome = _line(
        scene,
        r"^Outcome message \(SNS\): ABORTED, cleanup deleted_provisioned_throughputs \[\"(\S+)\"\]; next step: .+$",
    )
    sweep = _line(scene, r"^Sweep \(its hourly schedule, fired once now\): deleted (\d+), kept (\d+): nothing left$")
    assert bought.start() < stopped.start() < cleanup.start() < outcome.start() < sweep.start()

    # The PT shown is the one the emulator sold the stopped run, and the emulator deleted it
    throughput = demo.throughput_of(demo.job_of(FORGOTTEN_RUN_NAME))
    assert bought.group(1) == cleanup.group(2) == outcome.group(1) == throughput.arn
    assert int(bought.group(2)) == throughput.model_units
    assert throughput.deleted
    # by one delete, which IAM authorized for the execution-end rule's function (the workflow, stopped, did not)
    assert int(cleanup.group(1)) == len(demo.deletions_of(throughput)) == 1
    assert demo.deletions_of(throughput) == ["CleanUpExecution"]
    # The job had ended: nothing stopped it. The sweep found nothing: it deleted no PT of any run.
    assert int(cleanup.group(3)) == len(demo.calls("StopModelCustomizationJob")) == 0
    swept = [
        pt
        for pt in demo.bedrock.provisioned_throughputs.values()
        if "SweepProvisionedThroughputs" in demo.deletions_of(pt)
    ]
    assert (int(sweep.group(1)), int(sweep.group(2))) == (len(swept), 0) == (0, 0)


def test_each_run_sends_one_outcome_message(demo: Demo) -> None:
    # The workflow reports its own two ends; the stopped run's is reported once, by the cleanup.
    messages = _line(_section(demo.stdout, CHECK), r"^Outcome messages on the topic: (.+)$").group(1)
    assert re.fullmatch(
        rf"SUCCEEDED {MAIN_RUN_NAME} x1, SUCCEEDED upload-\S+ x1, ABORTED {FORGOTTEN_RUN_NAME} x1", messages
    ), messages


def test_summary_names_the_job_and_the_custom_model_it_produced(demo: Demo) -> None:
    printed = _line(demo.stdout, r"^Job: (arn:aws:bedrock:[^:]+:\d{12}:model-customization-job/\S+) \((\w+)\)$")
    model = _line(demo.stdout, r"^Custom model: (arn:aws:bedrock:[^:]+:\d{12}:custom-model/\S+)$")
    job = demo.job_of(MAIN_RUN_NAME)
    assert (printed.group(1), printed.group(2)) == (job.arn, job.status) == (job.arn, "Completed")
    assert model.group(1) == job.output_model_arn


def test_the_metadata_filter_selects_part_of_the_logged_traffic(demo: Demo) -> None:
    data = _line(demo.stdout, r"^Training data: (\d+) logged invocations, (\d+) match the filter .*, (\d+) used$")
    logged, matching, used = (int(data.group(i)) for i in (1, 2, 3))
    # The logged traffic is the Converse calls made with request metadata; the filter keeps the training split
    # of one project; the job trained on exactly those, with other splits and another team's prompts left out
    tagged = [call["requestMetadata"] for call in demo.calls("Converse") if call.get("requestMetadata")]
    assert logged == len(tagged)
    assert matching == sum(metadata == TRAINING_SPLIT for metadata in tagged)
    assert used == demo.job_of(MAIN_RUN_NAME).training_records == matching
    assert 100 <= matching < logged


def test_training_loss_curve_is_a_png_and_a_sparkline(demo: Demo) -> None:
    printed = Path(_line(demo.stdout, r"^Training-loss curve: (.+)$").group(1))
    assert printed == (demo.output_dir / "training-loss.png").resolve()
    image = printed.read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    assert len(image) > 5_000  # a drawn chart, not an empty canvas
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")  # IHDR
    assert width > 100
    assert height > 100

    losses = _line(demo.stdout, r"^Training loss: ([\d.]+) -> ([\d.]+) over (\d+) steps$")
    assert float(losses.group(2)) < float(losses.group(1))
    spark = _line(demo.stdout, r"^  ([▁▂▃▄▅▆▇█]+)$").group(1)
    assert set(spark) <= SPARK_CHARACTERS
    assert len(spark) == min(int(losses.group(3)), 60)
    assert spark[0] == "█"  # the curve starts at its highest loss


def test_validation_figures_come_from_the_provisioned_model(demo: Demo) -> None:
    validation = _line(
        demo.stdout,
        r"^Validation: (\d+)/(\d+) prompts succeeded, latency p50 (\d+) ms, p95 (\d+) ms, "
        r"mean similarity ([\d.]+) \((.+)\) against the teacher's answers$",
    )
    succeeded, prompts, p50, p95 = (int(validation.group(i)) for i in (1, 2, 3, 4))
    # Each prompt was one Converse call the emulator answered from the run's Provisioned Throughput
    throughput = demo.throughput_of(demo.job_of(MAIN_RUN_NAME))
    served = [call for call in demo.calls("Converse") if call["modelId"] == throughput.arn]
    assert succeeded == prompts == len(served) > 0
    assert 0 < p50 <= p95
    assert 0 < float(validation.group(5)) <= 100
    assert validation.group(6).startswith("chrF")


def test_cost_estimate_states_its_assumed_rate(demo: Demo) -> None:
    cost = _line(
        demo.stdout,
        r"^Estimated Provisioned Throughput cost: \$([\d.]+) \(([\d.]+) h alive, billed per started hour, "
        r"x (\d+) model unit\(s\) x \$([\d.]+)/h: assumed rate; see the Bedrock pricing page\)$",
    )
    usd, hours, units, rate = float(cost.group(1)), float(cost.group(2)), int(cost.group(3)), float(cost.group(4))
    assert units == demo.throughput_of(demo.job_of(MAIN_RUN_NAME)).model_units
    assert hours > 0
    assert usd == math.ceil(hours) * units * rate > 0


PROGRESS_LINE = re.compile(
    r"^\[\s*[\d.]+ s \| logical (?P<hours>\d+)h (?P<minutes>\d+)m\] execution (?P<execution>\w+), "
    r"state (?P<state>\S+), job (?P<job>.+), PT (?P<pt>.+)$",
    re.MULTILINE,
)


def test_progress_without_a_terminal_is_plain_lines_in_logical_time_order(demo: Demo) -> None:
    stdout = demo.stdout
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
    running = [job for job in waiting if job.startswith("InProgress (")]
    assert len(running) >= 5
    # The job may end a refresh before its event releases the wait: then the last waiting lines show it ended
    ended = waiting[len(running) :]
    assert waiting[: len(running)] == running
    assert all(job.startswith("Completed") for job in ended), waiting
    last = progress[-1]
    assert (last["execution"], last["state"], last["job"], last["pt"]) == (
        "SUCCEEDED",
        "Succeeded",
        "Completed",
        "Deleted",
    )


def _minutes(line: dict[str, str]) -> int:
    return int(line["hours"]) * 60 + int(line["minutes"])


def test_python_m_offline_demo_is_the_entry_point_make_demo_runs() -> None:
    # `make demo` runs `python -m offline.demo`: the package's __main__ parses the demo's own arguments
    finished = subprocess.run(
        [sys.executable, "-m", "offline.demo", "--help"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage: python -m offline.demo ")
    assert "--hourly-rate" in finished.stdout
    assert "--output-dir" in finished.stdout


def test_the_demo_never_reaches_a_real_account_whatever_the_shell_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shell holding real credentials, a profile and a Region
    shell = {
        "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
        "AWS_SECRET_ACCESS_KEY": "real-secret",
        "AWS_PROFILE": "production",
        "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/admin",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    monkeypatch.setattr(os, "environ", dict(shell))
    # When the demo's entry point sets its environment
    isolate()
    # Then fake credentials and no profile or role; the shell's Region is kept
    assert {name: os.environ[name] for name in FORCED} == FORCED
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_ROLE_ARN" not in os.environ
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
