"""The scorecard: per-metric means, share and win rate from the judge's output files, latency and tokens from both
sides' answers, prices from configuration only, the saving at the logged volume, and promote/hold."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping

import boto3
import pytest

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.handlers import common, score
from bedrock_distill.workflow.errors import EvaluationResultsUnreadable, ThrottlingException
from bedrock_distill.workflow.evaluation import Evaluation, EvaluationJob, results_prefix
from bedrock_distill.workflow.responses import ResponseLine
from bedrock_distill.workflow.run import Run, Side
from bedrock_distill.workflow.scorecard import SCHEMA, build_scorecard, record_scorecard
from bedrock_distill.workflow.settings import PipelineSettings
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.judging import (
    STUDENT,
    TEACHER,
    answer,
    judge_settings,
    planned_run,
    put_answers,
    put_lines,
    put_results,
    read_json,
    read_lines,
)

pytestmark = pytest.mark.unit

CORRECTNESS, COMPLETENESS, HELPFULNESS = "Builtin.Correctness", "Builtin.Completeness", "Builtin.Helpfulness"
PRICES = {
    TEACHER: {"inputPerMillionTokens": 2.0, "outputPerMillionTokens": 4.0},
    STUDENT: {"inputPerMillionTokens": 0.5, "outputPerMillionTokens": 1.0},
}
Scorer = Callable[[ResponseLine], Mapping[str, float | None]]


def _evaluation(run: Run) -> Evaluation:
    def job(side: Side, suffix: str) -> EvaluationJob:
        arn = f"arn:aws:bedrock:us-west-2:123456789012:evaluation-job/{suffix}"
        return EvaluationJob(
            job_arn=arn, job_name=run.evaluation_job_name(side), status="Completed", prompts=4, left_out=0
        )

    return Evaluation(
        status="Completed", student=job("student", "stud3nt0job1"), teacher=job("teacher", "t3acher0job1")
    )


def _judged(
    run: Run, teacher: Scorer, student: Scorer, student_fails: frozenset[int] = frozenset()
) -> dict[Side, list[str]]:
    """Five held-out prompts: the teacher answered all, the student all but `student_fails`; both judged."""
    answers: dict[Side, list[ResponseLine]] = {
        "teacher": [answer(i, f"teacher {i}", tokens=(100, 200), latency=1000.0 + i) for i in range(5)],
        "student": [
            answer(i, None if i in student_fails else f"student {i}", tokens=(100, 300), latency=200.0 + i)
            for i in range(5)
        ],
    }
    files: dict[Side, list[str]] = {}
    scorers: dict[Side, Scorer] = {"teacher": teacher, "student": student}
    for side, scorer in scorers.items():
        put_answers(run, side, answers[side])
        files[side] = put_results(run, side, answers[side], scorer)
    return files


def _all(value: float | None) -> Scorer:
    return lambda _: {CORRECTNESS: value, COMPLETENESS: value, HELPFULNESS: value}


@pytest.fixture
def run() -> Iterator[Run]:
    with planned_run() as planned:
        yield planned


def test_a_worse_student_gets_hold_with_the_reason(run: Run) -> None:
    # Given a teacher the judge scores 1.0 on every prompt and a student it scores 0.5
    _judged(run, _all(1.0), _all(0.5))
    # When the scorecard is built with the default rule (90% of the teacher's Correctness)
    card = build_scorecard(run, _evaluation(run), judge_settings(), S3Gateway())
    # Then the student keeps half the teacher's score, wins no prompt, and is held
    correctness = next(m for m in card.metrics if m.name == CORRECTNESS)
    assert (correctness.teacher_mean, correctness.student_mean, correctness.student_share) == (1.0, 0.5, 0.5)
    assert (correctness.student_win_rate, correctness.judged_prompts) == (0.0, 5)
    assert card.decision.outcome == "hold"
    assert (card.decision.metric, card.decision.share, card.decision.threshold) == (CORRECTNESS, 0.5, 0.9)
    assert "50.0%" in card.decision.reason
    assert "below the 90% required" in card.decision.reason


def test_a_student_as_good_as_its_teacher_gets_promote(run: Run) -> None:
    _judged(run, _all(0.8), _all(0.76))
    card = build_scorecard(run, _evaluation(run), judge_settings(), S3Gateway())
    assert card.decision.outcome == "promote"
    assert card.decision.share == pytest.approx(0.95)
    assert "at least the 90% required" in card.decision.reason


def test_the_decision_follows_the_configured_metric_and_share(run: Run) -> None:
    # Given a student as correct as its teacher but much less complete
    _judged(run, _all(1.0), lambda _: {CORRECTNESS: 1.0, COMPLETENESS: 0.5, HELPFULNESS: 1.0})
    # When the deployment decides on completeness at 40%, and on completeness at 60%
    lenient = judge_settings(decision_metric=COMPLETENESS, promote_min_share=0.4)
    strict = judge_settings(decision_metric=COMPLETENESS, promote_min_share=0.6)
    # Then the first promotes and the second holds
    assert build_scorecard(run, _evaluation(run), lenient, S3Gateway()).decision.outcome == "promote"
    assert build_scorecard(run, _evaluation(run), strict, S3Gateway()).decision.outcome == "hold"


def test_win_rate_counts_ties_as_half_and_skips_not_applicable_scores(run: Run) -> None:
    # Given per prompt: the student wins 0, ties 1, loses 2, and on prompt 3 the judge found the metric not applicable
    teacher_scores = {0: 0.5, 1: 0.5, 2: 0.5, 3: None, 4: 0.25}
    student_scores = {0: 0.75, 1: 0.5, 2: 0.25, 3: 1.0, 4: 0.25}
    _judged(
        run,
        lambda a: {CORRECTNESS: teacher_scores[a.index]},
        lambda a: {CORRECTNESS: student_scores[a.index]},
    )
    # When the scorecard is built
    card = build_scorecard(run, _evaluation(run), judge_settings(judge_metrics=(CORRECTNESS,)), S3Gateway())
    (correctness,) = card.metrics
    # Then prompt 3 counts nowhere (not as 0), and the win rate is (1 win + 2 ties/2) / 4
    assert correctness.judged_prompts == 4
    assert correctness.student_win_rate == pytest.approx((1 + 2 / 2) / 4)
    assert correctness.teacher_mean == pytest.approx((0.5 + 0.5 + 0.5 + 0.25) / 4)
    assert correctness.student_mean == pytest.approx((0.75 + 0.5 + 0.25 + 0.25) / 4)


def test_every_number_traces_to_the_files_the_scorecard_names(run: Run) -> None:
    # Given judged answers with varied scores, a student that failed prompt 4, and a written scorecard
    written = _judged(
        run,
        lambda a: {CORRECTNESS: 0.2 * a.index, COMPLETENESS: 1.0, HELPFULNESS: 0.5},
        lambda a: {CORRECTNESS: 0.1 * a.index, COMPLETENESS: 0.75, HELPFULNESS: None if a.index == 0 else 0.5},
        student_fails=frozenset({4}),
    )
    summary = record_scorecard(run, _evaluation(run), judge_settings(), S3Gateway())
    card = read_json(summary.scorecard_uri)
    # Then its sources are exactly the evaluation output files (not the permission-check object)
    assert sorted(card["sources"]) == sorted(written["teacher"] + written["student"])
    # And recomputing every metric from those files alone gives the scorecard's numbers
    scored: dict[Side, dict[str, dict[str, float | None]]] = defaultdict(dict)
    for uri in card["sources"]:
        side: Side = "teacher" if f"/{run.evaluation_job_name('teacher')}/" in uri else "student"
        for line in read_lines(uri):
            scores = {s["metricName"]: s["result"] for s in line["automatedEvaluationResult"]["scores"]}
            scored[side][line["inputRecord"]["prompt"]] = scores
    for metric in card["metrics"]:
        name = metric["name"]
        pairs = [
            (t, s)
            for prompt, scores in scored["teacher"].items()
            if (t := scores[name]) is not None and (s := scored["student"].get(prompt, {}).get(name)) is not None
        ]
        assert metric["judgedPrompts"] == len(pairs)
        assert metric["teacherMean"] == pytest.approx(statistics.fmean(t for t, _ in pairs))
        assert metric["studentMean"] == pytest.approx(statistics.fmean(s for _, s in pairs))
        assert metric["studentShare"] == pytest.approx(metric["studentMean"] / metric["teacherMean"])
    # And every latency and token figure recomputes from the response file each side names
    for side in ("teacher", "student"):
        lines = [line for line in read_lines(card[side]["responsesUri"]) if line["error"] is None]
        latencies = sorted(line["latencyMs"] for line in lines)
        assert card[side]["inputTokens"] == sum(line["inputTokens"] for line in lines)
        assert card[side]["outputTokens"] == sum(line["outputTokens"] for line in lines)
        assert card[side]["latencyP50Ms"] == latencies[(len(latencies) + 1) // 2 - 1]
        assert card[side]["latencyP95Ms"] == latencies[-1]
    assert (card["teacher"]["prompts"], card["student"]["answered"], card["student"]["judged"]) == (5, 4, 4)
    # And the decision is the decision metric's own share
    correctness = next(m for m in card["metrics"] if m["name"] == CORRECTNESS)
    assert card["decision"]["share"] == correctness["studentShare"]
    # And the document has the contract's schema
    assert card["schema"] == SCHEMA
    assert {"executionArn", "servingMode", "teacher", "student", "judgeModelId", "metrics", "prices", "volume",
            "estimatedMonthlySavingUsd", "decision", "sources"} <= set(card)  # fmt: skip


def test_without_configured_prices_there_is_no_cost_and_the_scorecard_says_why(run: Run) -> None:
    _judged(run, _all(1.0), _all(1.0))
    card = build_scorecard(run, _evaluation(run), judge_settings(), S3Gateway())
    # Then no price is invented for either side (this Llama student is on PT: billed by the hour, not per token)
    assert (card.prices.teacher, card.prices.student) == (None, None)
    assert card.prices.missing[0] == f"teacher: no price for {TEACHER} in deployment configuration MODEL_PRICES_USD"
    assert "Provisioned Throughput" in card.prices.missing[1]
    # And a run trained on a prompt file has no volume to price
    assert card.volume is None
    assert card.estimated_monthly_saving_usd is None
    assert "prompt file" in (card.volume_reason or "")


def _logs_run(settings: PipelineSettings, volume: dict[str, object] | None) -> Iterator[Run]:
    document: dict[str, object] = {
        "trainingData": {"invocationLogs": {"requestMetadataFilters": {"equals": {"project": "tickets"}}}},
        "validationPrompts": "s3://inputs/held-out.jsonl",
        "servingMode": "on-demand",
    }
    with planned_run(document, settings) as planned:
        report = f"{planned.report_s3_uri}preflight.json"
        scan: dict[str, object] = {"invocationLogs": {"records": 1000, "volume": volume}} if volume else {}
        location = S3Location.parse(report)
        boto3.client("s3").put_object(Bucket=location.bucket, Key=location.key, Body=json.dumps(scan).encode())
        yield planned.model_copy(update={"preflight_report_uri": report})


def _nova_settings(**overrides: object) -> PipelineSettings:
    return judge_settings(
        default_teacher_model_id="amazon.nova-pro-v1:0",
        default_student_model_id="amazon.nova-lite-v1:0:300k",
        deploy_region="us-east-1",
        model_prices_usd={
            "amazon.nova-pro-v1:0": {"inputPerMillionTokens": 0.8, "outputPerMillionTokens": 3.2},
            "amazon.nova-lite-v1:0:300k": {"inputPerMillionTokens": 0.06, "outputPerMillionTokens": 0.24},
        },
        **overrides,
    )


def test_the_saving_is_priced_at_the_logged_volume_per_month() -> None:
    # Given an on-demand student, both prices configured, and logs of 10 days with 3M input and 1M output teacher tokens
    settings = _nova_settings()
    volume = {"invocations": 5000, "inputTokens": 3_000_000, "outputTokens": 1_000_000,
              "firstTimestamp": "2026-11-01T00:00:00Z", "lastTimestamp": "2026-11-11T00:00:00Z"}  # fmt: skip
    for run in _logs_run(settings, volume):
        # And a student using as many input tokens as the teacher and 1.5 times its output tokens
        _judged(run, _all(1.0), _all(0.95))
        # When the scorecard is built
        card = build_scorecard(run, _evaluation(run), settings, S3Gateway())
        # Then the volume is the scan's, over 10 days
        assert card.volume is not None
        assert (card.volume.invocations, card.volume.input_tokens, card.volume.days) == (5000, 3_000_000, 10.0)
        assert card.token_ratio is not None
        assert (card.token_ratio.input, card.token_ratio.output) == (1.0, 1.5)
        # And the saving is a month (30.4375 days) of teacher cost minus the student's at its token ratio
        per_month = 30.4375 / 10
        teacher = (3 * 0.8 + 1 * 3.2) * per_month
        student = (3 * 0.06 + 1.5 * 0.24) * per_month
        assert card.estimated_monthly_saving_usd == pytest.approx(teacher - student)
        assert card.prices.student is not None
        assert card.prices.student.model_id == "amazon.nova-lite-v1:0:300k"
        assert card.prices.missing == []


def test_logs_without_a_time_span_have_no_rate_per_month() -> None:
    volume = {"invocations": 1, "inputTokens": 10, "outputTokens": 10,
              "firstTimestamp": "2026-11-01T00:00:00Z", "lastTimestamp": "2026-11-01T00:00:00Z"}  # fmt: skip
    for run in _logs_run(_nova_settings(), volume):
        _judged(run, _all(1.0), _all(1.0))
        card = build_scorecard(run, _evaluation(run), _nova_settings(), S3Gateway())
        assert card.estimated_monthly_saving_usd is None
        assert "no time span" in card.saving_reason


def test_a_preflight_report_without_a_volume_gives_null_with_the_reason() -> None:
    for run in _logs_run(_nova_settings(), None):
        _judged(run, _all(1.0), _all(1.0))
        card = build_scorecard(run, _evaluation(run), _nova_settings(), S3Gateway())
        assert card.volume is None
        assert "invocationLogs.volume unreadable" in (card.volume_reason or "")


def test_a_judged_line_that_matches_no_answer_is_unreadable(run: Run) -> None:
    # Given results whose output has a line for a prompt the student never answered
    files = _judged(run, _all(1.0), _all(1.0))
    extra = {"automatedEvaluationResult": {"scores": []}, "inputRecord": {"prompt": "question 99?"},
             "modelResponses": [{"response": "?", "modelIdentifier": "student"}]}  # fmt: skip
    put_lines(files["student"][1], [*read_lines(files["student"][1]), extra])
    # When the scorecard is built, Then the error names the file and line
    with pytest.raises(EvaluationResultsUnreadable, match=rf"{files['student'][1]}:\d+: inputRecord: .* match no"):
        build_scorecard(run, _evaluation(run), judge_settings(), S3Gateway())


def test_score_returns_the_decision_and_writes_the_scorecard(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in judge_settings().to_environment().items():
        monkeypatch.setenv(name, value)
    common.settings.cache_clear()
    _judged(run, _all(1.0), _all(0.5))
    event = {
        "run": json.loads(run.model_dump_json(by_alias=True)),
        "evaluation": _evaluation(run).to_state(),
        "teacher": {"modelId": TEACHER, "prompts": 5},
        "validation": {"modelId": "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghij12"},
    }
    result = score.handler(event, LocalLambdaContext(function_name="score"))
    assert result == {
        "decision": "hold",
        "reason": result["reason"],
        "decisionMetric": CORRECTNESS,
        "studentShare": 0.5,
        "scorecardUri": run.scorecard_uri,
        "servingMode": "provisioned",
    }
    card = read_json(run.scorecard_uri)
    assert card["student"]["servedBy"].endswith("provisioned-model/abcdefghij12")
    assert card["teacher"]["evaluationJobArn"].endswith("t3acher0job1")
    assert (
        results_prefix(run, "teacher").uri in card["sources"][0]
        or results_prefix(run, "student").uri in card["sources"][0]
    )
    common.settings.cache_clear()


class _ThrottledPreflightReport(S3Gateway):
    def read_text(self, location: S3Location) -> str:
        if location.key.endswith("preflight.json"):
            raise ThrottlingException("GetObject: SlowDown", code="SlowDown")
        return super().read_text(location)


def test_a_throttled_volume_read_is_retried_not_reported_as_no_volume() -> None:
    volume: dict[str, object] = {"invocations": 1, "inputTokens": 10, "outputTokens": 10, "firstTimestamp": None}
    for run in _logs_run(_nova_settings(), volume):
        _judged(run, _all(1.0), _all(1.0))
        with pytest.raises(ThrottlingException):
            build_scorecard(run, _evaluation(run), _nova_settings(), _ThrottledPreflightReport())
