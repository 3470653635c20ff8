"""distill report: the run's job, metrics, loss-curve PNG and validation results, from Bedrock and S3."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from distill_cli.main import main
from offline.bedrock_emulator import BedrockEmulator
from tests.unit.cli.conftest import (
    OUTPUT_BUCKET,
    Deployment,
    FakeClock,
    aws_client,
    create_run_job,
    finish_execution,
    start_execution,
)

pytestmark = pytest.mark.unit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _put_json(key: str, document: dict[str, Any]) -> str:
    aws_client("s3").put_object(Bucket=OUTPUT_BUCKET, Key=key, Body=json.dumps(document).encode())
    return f"s3://{OUTPUT_BUCKET}/{key}"


VALIDATION = {
    "modelId": "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc",
    "summary": {
        "prompts": 2,
        "succeeded": 2,
        "failed": 0,
        "latency_p50_ms": 566.0,
        "latency_p95_ms": 726.0,
        "mean_similarity": 41.25,
        "similarity_metric": "chrF (sacrebleu)",
    },
    "results": [
        {"prompt": "Summarise ticket 1.", "output": "Printer jam.", "reference": "Jam.", "similarity": 40.0},
        {"prompt": "Summarise ticket 2.", "output": "Paper out.", "reference": "Paper.", "similarity": 42.5},
    ],
}


def _completed_run(deployment: Deployment, emulator: BedrockEmulator, name: str) -> tuple[str, str]:
    """An execution whose job completed (the emulator wrote its metric CSVs) and whose reports are in S3."""
    arn = start_execution(deployment, name)
    job_arn = create_run_job(arn, name)
    emulator.clock.advance(3 * 3600 + 1)
    _put_json(f"jobs/{name}/report/preflight.json", {"problems": [], "trainingData": {"valid": 100}})
    return arn, job_arn


def test_report_of_a_succeeded_run_writes_the_loss_curve_and_prints_metrics_and_validation(
    deployment: Deployment,
    emulator: BedrockEmulator,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a run that succeeded: its job's metrics, its validation report and its output
    arn, job_arn = _completed_run(deployment, emulator, "good")
    validation_uri = _put_json("jobs/good/report/validation.json", VALIDATION)
    job = aws_client("bedrock").get_model_customization_job(jobIdentifier=job_arn)
    finish_execution(
        arn,
        "SUCCEEDED",
        output={
            "run": {
                "outputS3Uri": f"s3://{OUTPUT_BUCKET}/jobs/good/",
                "reportS3Uri": f"s3://{OUTPUT_BUCKET}/jobs/good/report/",
            },
            "job": {"jobArn": job_arn, "status": "Completed", "outputModelArn": job["outputModelArn"]},
            "serving": {"validation": {"reportUri": validation_uri}},
            "notification": {
                "outcome": {"estimated_provisioned_throughput_cost_usd": 40.0, "provisioned_throughput_hours": 2.0}
            },
        },
    )
    out_dir = tmp_path / "report"
    # When its report is asked for
    code = main(["report", "good", "--out", str(out_dir)])
    # Then the loss curve is a PNG and report.json holds the metrics and validation results
    out = capsys.readouterr().out
    assert code == 0, out
    assert (out_dir / "training-loss.png").read_bytes().startswith(PNG_SIGNATURE)
    document = json.loads((out_dir / "report.json").read_text())
    assert document["execution"]["status"] == "SUCCEEDED"
    steps = document["metrics"]["training_steps"]
    assert len(steps) == 26  # 100 records, batch 8, 2 epochs
    assert document["validation"]["summary"]["mean_similarity"] == 41.25
    # And the summary names the job, the model, the loss, the validation and the cost
    assert f"job: {job_arn} (Completed)" in out
    assert f"custom model: {job['outputModelArn']}" in out
    assert f"training: 26 steps over 2 epoch(s), loss {steps[0]['training_loss']:.4f} -> " in out
    assert "validation loss per epoch: " in out
    assert "2/2 prompts succeeded, latency p50 566 ms, p95 726 ms, mean similarity 41.2 (chrF (sacrebleu))" in out
    assert "Printer jam." in out
    assert "preflight: 100 training records, 0 problems" in out
    assert "estimated Provisioned Throughput cost: $40.00 (2.0 h billed)" in out
    assert f"wrote {out_dir / 'training-loss.png'}" in out


@pytest.mark.usefixtures("clock")
def test_report_of_a_failed_run_finds_its_job_by_name_and_exits_1(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a run that failed after its job completed (no execution output: a Fail state has none)
    arn, job_arn = _completed_run(deployment, emulator, "quota")
    finish_execution(arn, "FAILED", error="ProvisionedThroughputQuotaExceeded", cause="0 model units")
    monkeypatch.chdir(tmp_path)
    # When its report is asked for by ARN, into the default folder
    code = main(["report", arn])
    # Then the error, the job (found through Bedrock by the run's job name) and its metrics are reported
    out = capsys.readouterr().out
    assert code == 1
    assert "error: ProvisionedThroughputQuotaExceeded: 0 model units" in out
    assert f"job: {job_arn} (Completed)" in out
    assert "validation: none (the run did not reach its Provisioned Throughput)" in out
    assert (tmp_path / "distill-report-quota" / "training-loss.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.usefixtures("clock")
def test_without_matplotlib_the_report_says_so_and_writes_the_rest(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given matplotlib cannot be imported (it is a development dependency only)
    _completed_run(deployment, emulator, "plain")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    # When a report is written
    code = main(["report", "plain", "--out", str(tmp_path)])
    # Then it says how to get the PNG, and writes report.json without it
    out = capsys.readouterr().out
    assert code == 0
    assert "matplotlib is not installed" in out
    assert "pip install matplotlib" in out
    assert not (tmp_path / "training-loss.png").exists()
    assert json.loads((tmp_path / "report.json").read_text())["metrics"]["training_steps"]


def test_report_of_a_run_without_a_job_yet(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run still in its preflight
    start_execution(deployment, "early")
    # When its report is asked for, as JSON
    code = main(["report", "early", "--out", str(tmp_path), "--json"])
    # Then it has no job and no metrics yet, and no PNG
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["job"] == {}
    assert document["metrics"] is None
    assert document["files"] == [str(tmp_path / "report.json")]
