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


TEACHER_ID = "meta.llama3-1-70b-instruct-v1:0"
STUDENT_ID = "arn:aws:bedrock:us-west-2:123456789012:custom-model/meta.llama3-1-8b-instruct-v1:0:128k/abc"
JUDGE = "us.meta.llama3-1-70b-instruct-v1:0"


def _scorecard(outcome: str = "hold") -> dict[str, Any]:
    """A scorecard as the Score step writes it (bedrock_distill.workflow.scorecard, bedrock-distill-scorecard/1)."""

    def side(model_id: str, job: str, p50: float, judged: int) -> dict[str, Any]:
        return {
            "modelId": model_id,
            "servedBy": None,
            "evaluationJobArn": f"arn:aws:bedrock:us-west-2:123456789012:evaluation-job/{job}",
            "responsesUri": f"s3://{OUTPUT_BUCKET}/jobs/judged/report/responses/{job}.jsonl",
            "prompts": 15,
            "answered": 15,
            "judged": judged,
            "latencyP50Ms": p50,
            "latencyP95Ms": 630.0,
            "inputTokens": 900,
            "outputTokens": 300,
        }

    def metric(name: str, teacher: float, student: float | None, share: float | None, wins: float | None) -> Any:
        judged = 0 if student is None else 14
        return {
            "name": name,
            "teacherMean": teacher,
            "studentMean": student,
            "studentShare": share,
            "studentWinRate": wins,
            "judgedPrompts": judged,
        }

    return {
        "schema": "bedrock-distill-scorecard/1",
        "executionArn": "arn:aws:states:us-west-2:123456789012:execution:m:judged",
        "servingMode": "on-demand",
        "teacher": side(TEACHER_ID, "teacher0000a", 410.0, 15),
        "student": side(STUDENT_ID, "student0000b", 120.0, 14),
        "judgeModelId": JUDGE,
        "metrics": [
            metric("Builtin.Correctness", 0.8, 0.6, 0.75, 0.3),
            metric("Builtin.Completeness", 0.7, 0.65, 0.9286, 0.45),
            metric("Builtin.Helpfulness", 0.9, None, None, None),
        ],
        "prices": {
            "teacher": {"modelId": TEACHER_ID, "inputPerMillionTokens": 0.72, "outputPerMillionTokens": 0.72},
            "student": {"modelId": STUDENT_ID, "inputPerMillionTokens": 0.22, "outputPerMillionTokens": 0.22},
            "source": "deployment configuration MODEL_PRICES_USD",
            "missing": [],
        },
        "volume": {
            "invocations": 4000,
            "inputTokens": 2_000_000,
            "outputTokens": 500_000,
            "firstTimestamp": "2026-11-01T00:00:00+00:00",
            "lastTimestamp": "2026-11-29T00:00:00+00:00",
            "days": 28.0,
            "source": f"s3://{OUTPUT_BUCKET}/jobs/judged/report/preflight.json: invocationLogs.volume",
        },
        "volumeReason": None,
        "tokenRatio": {"input": 1.0, "output": 0.9, "prompts": 14},
        "estimatedMonthlySavingUsd": 1.25,
        "savingReason": "4,000 teacher calls over 28.00 days, per month of 30.4375 days",
        "decision": {
            "outcome": outcome,
            "metric": "Builtin.Correctness",
            "share": 0.75,
            "threshold": 0.9,
            "reason": "the student keeps 75% of the teacher's Builtin.Correctness score, below the 90% required",
        },
        "sources": ["s3://distill-outputs/jobs/judged/evaluation/output/x_output.jsonl"],
    }


@pytest.fixture
def saved_figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every matplotlib Figure saved while the test runs, so its drawn bars can be read back as numbers."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - the plot extra, present in the dev environment

    saved: list[Any] = []
    original = Figure.savefig

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        saved.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return saved


def _bars(figure: Any) -> dict[str, list[float]]:
    """The heights of each bar series on the chart, by its legend label."""
    (axes,) = figure.axes
    return {container.get_label(): [bar.get_height() for bar in container] for container in axes.containers}


@pytest.mark.usefixtures("clock")
def test_report_of_a_judged_run_draws_the_scorecard_from_its_file_beside_the_loss_curve(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    saved_figures: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a run whose Score step wrote report/scorecard.json
    arn, _ = _completed_run(deployment, emulator, "judged")
    document = _scorecard()
    _put_json("jobs/judged/report/scorecard.json", document)
    finish_execution(arn, "SUCCEEDED", output={"run": {"outputS3Uri": f"s3://{OUTPUT_BUCKET}/jobs/judged/"}})
    # When its report is asked for
    code = main(["report", "judged", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    # Then a scorecard PNG is written beside the loss curve
    assert code == 0, out
    assert (tmp_path / "training-loss.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (tmp_path / "scorecard.png").read_bytes().startswith(PNG_SIGNATURE)
    assert f"wrote {tmp_path / 'scorecard.png'}" in out
    # And its bars are the file's means, teacher beside student per metric; a mean the judge gave none is no bar
    _loss_curve, chart = saved_figures
    bars = _bars(chart)
    assert list(bars) == [f"teacher ({TEACHER_ID})", f"student ({STUDENT_ID})"]
    assert bars[f"teacher ({TEACHER_ID})"] == [m["teacherMean"] for m in document["metrics"]]
    student = bars[f"student ({STUDENT_ID})"]
    assert student[:2] == [m["studentMean"] for m in document["metrics"][:2]]
    assert student[2] != student[2]  # NaN: not drawn
    (axes,) = chart.axes
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["Correctness", "Completeness", "Helpfulness"]
    # And the title carries the decision
    assert "hold: the student keeps 75% of the teacher's Correctness score (threshold 90%)" in axes.get_title()
    # And the printed report and report.json carry the scorecard, prices labelled with their source
    assert "scorecard: hold: the student keeps 75% of the teacher's Correctness score (threshold 90%)" in out
    assert (
        "  Builtin.Correctness: teacher 0.800, student 0.600 (75% of the teacher's), student win rate 30% "
        "over 14 prompts"
    ) in out
    assert "  Builtin.Helpfulness: teacher 0.900, student n/a (n/a of the teacher's)" in out
    assert "latency p50/p95: teacher 410/630 ms, student 120/630 ms" in out
    assert (
        "price per million input/output tokens: teacher $0.72/$0.72, student $0.22/$0.22 "
        "(deployment configuration MODEL_PRICES_USD)"
    ) in out
    assert "estimated monthly saving: $1.25: 4,000 teacher calls over 28.00 days, per month of 30.4375 days" in out
    assert json.loads((tmp_path / "report.json").read_text())["scorecard"] == document


@pytest.mark.usefixtures("clock")
def test_report_of_a_run_not_judged_yet_says_there_is_no_scorecard(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a run whose job completed and which has not been judged yet
    _completed_run(deployment, emulator, "unjudged")
    # When its report is asked for
    code = main(["report", "unjudged", "--out", str(tmp_path)])
    # Then the loss curve is drawn and the report says why there is no scorecard chart
    out = capsys.readouterr().out
    assert code == 0
    assert "note: no scorecard yet: the run has not been judged (its Score step writes report/scorecard.json)" in out
    assert (tmp_path / "training-loss.png").exists()
    assert not (tmp_path / "scorecard.png").exists()
    assert json.loads((tmp_path / "report.json").read_text())["scorecard"] is None


@pytest.mark.usefixtures("clock")
def test_an_unreadable_scorecard_is_named_field_by_field_and_the_rest_is_written(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a scorecard whose second metric has a teacher mean that is not a number
    _completed_run(deployment, emulator, "garbled")
    document = _scorecard()
    document["metrics"][1]["teacherMean"] = "high"
    _put_json("jobs/garbled/report/scorecard.json", document)
    # When its report is asked for
    code = main(["report", "garbled", "--out", str(tmp_path)])
    # Then the file and field are named, no chart is drawn, and the rest of the report is written
    out = capsys.readouterr().out
    assert code == 0
    assert (
        f"scorecard unreadable, no scorecard chart: s3://{OUTPUT_BUCKET}/jobs/garbled/report/scorecard.json: "
        "metrics.1.teacherMean: Input should be a valid number"
    ) in out
    assert "(got 'high')" in out
    assert not (tmp_path / "scorecard.png").exists()
    assert (tmp_path / "training-loss.png").exists()


@pytest.mark.usefixtures("clock")
def test_without_matplotlib_the_scorecard_is_printed_and_the_chart_skipped(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a judged run, and matplotlib that cannot be imported
    _completed_run(deployment, emulator, "noplot")
    _put_json("jobs/noplot/report/scorecard.json", _scorecard("promote"))
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    # When its report is asked for
    code = main(["report", "noplot", "--out", str(tmp_path)])
    # Then the scorecard is printed, and the note says how to get its chart
    out = capsys.readouterr().out
    assert code == 0
    assert "scorecard: promote: " in out
    assert "matplotlib is not installed, so no scorecard PNG was drawn" in out
    assert not (tmp_path / "scorecard.png").exists()
