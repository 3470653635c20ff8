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
        timeout=120,
        check=False,
    )
    return finished, output_dir


def _line(stdout: str, pattern: str) -> re.Match[str]:
    match = re.search(pattern, stdout, re.MULTILINE)
    assert match, f"no line matches {pattern!r} in:\n{stdout}"
    return match


def test_demo_succeeds_and_leaves_no_provisioned_throughput(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    finished, _ = demo_run
    assert finished.returncode == 0, finished.stdout + finished.stderr
    _line(finished.stdout, r"^Execution: SUCCEEDED \(arn:aws:states:")
    _line(finished.stdout, r"^Checked: no Provisioned Throughput left \((\d+) created, \1 deleted\)$")


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
    progress = [match.groupdict() for match in PROGRESS_LINE.finditer(stdout)]
    assert progress, stdout
    logical_minutes = [int(line["hours"]) * 60 + int(line["minutes"]) for line in progress]
    assert logical_minutes == sorted(logical_minutes)
    assert logical_minutes[-1] > 0
    assert "WaitForJob" in {line["state"] for line in progress}
    assert any(line["job"].startswith("InProgress (") for line in progress)
    last = progress[-1]
    assert (last["execution"], last["state"], last["job"], last["pt"]) == (
        "SUCCEEDED",
        "Succeeded",
        "Completed",
        "Deleted",
    )
