"""The scorecard: is the student good enough to replace its teacher, and what would the switch save?

Every number in it comes from a file it names: the judge's scores from the evaluation jobs' output files
(`sources`), latency and tokens from each side's response lines (`responsesUri`), the volume from Preflight's
invocation-log scan (`volume.source`), the prices from the deployment's configuration (MODEL_PRICES_USD; the
project ships none, and a model without a price gets no cost figure).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.errors import EvaluationResultsUnreadable, TransientError, WorkflowError
from bedrock_distill.workflow.evaluation import (
    SIDES,
    Evaluation,
    JobResults,
    metric_names,
    read_results,
    side_model_id,
)
from bedrock_distill.workflow.responses import ResponseLine, read_response_lines, summarize
from bedrock_distill.workflow.run import Run, ServingMode, Side
from bedrock_distill.workflow.settings import ModelPrice, PipelineSettings

SCHEMA: Final = "bedrock-distill-scorecard/1"
PRICES_SOURCE: Final = "deployment configuration MODEL_PRICES_USD"
_PER_MILLION = 1_000_000
_DAY_SECONDS = 86_400
# The average month of the Gregorian calendar.
_MONTH_DAYS = 30.4375

Outcome = Literal["promote", "hold"]


class _Card(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SideCard(_Card):
    model_id: str
    # What answered: the deployment's or the PT's ARN for the student; the model ID or profile for the teacher.
    served_by: str | None
    evaluation_job_arn: str
    responses_uri: str
    prompts: int
    answered: int
    judged: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int


class MetricCard(_Card):
    """Means over the prompts both sides were scored on for this metric (a not-applicable score is no score)."""

    name: str
    teacher_mean: float | None
    student_mean: float | None
    student_share: float | None
    student_win_rate: float | None
    judged_prompts: int


class PriceCard(_Card):
    model_id: str
    input_per_million_tokens: float
    output_per_million_tokens: float


class Prices(_Card):
    teacher: PriceCard | None
    student: PriceCard | None
    source: str = PRICES_SOURCE
    # Why a side has no price, when one has none.
    missing: list[str]


class Volume(_Card):
    """The teacher's traffic the run's invocation logs show (Preflight's scan, preflight.json
    invocationLogs.volume): successful teacher calls among the records the run's filter matched."""

    invocations: int
    input_tokens: int
    output_tokens: int
    first_timestamp: str | None
    last_timestamp: str | None
    days: float | None
    source: str


class Decision(_Card):
    outcome: Outcome
    metric: str
    share: float | None
    threshold: float
    reason: str


class TokenRatio(_Card):
    """The student's tokens per the teacher's, over the held-out prompts both answered with token counts."""

    input: float
    output: float
    prompts: int


class Scorecard(_Card):
    schema_: str = Field(default=SCHEMA, alias="schema")
    execution_arn: str
    serving_mode: ServingMode
    teacher: SideCard
    student: SideCard
    judge_model_id: str
    metrics: list[MetricCard]
    prices: Prices
    volume: Volume | None
    volume_reason: str | None
    token_ratio: TokenRatio | None
    estimated_monthly_saving_usd: float | None
    saving_reason: str
    decision: Decision
    # The evaluation jobs' output files every score above was read from.
    sources: list[str]


class ScorecardSummary(BaseModel):
    """What Score returns to the state (and the outcome message carries)."""

    decision: Outcome
    reason: str
    decision_metric: str
    student_share: float | None
    scorecard_uri: str
    serving_mode: ServingMode


# The judge's scores of one side: prompt index -> metric -> score (None: not applicable).
Scores = dict[int, dict[str, float | None]]


def scores_by_prompt(side: Side, answers: list[ResponseLine], results: JobResults, responses_uri: str) -> Scores:
    """Each judged line matched to the prompt it judged, by its prompt, reference and answer (the dataset carries
    no index; identical triples are interchangeable). A line that matches no answer, or one already judged, is
    unreadable: the scores would be someone else's."""
    unjudged: dict[tuple[str, str | None, str], list[int]] = defaultdict(list)
    for answer in answers:
        if answer.succeeded and answer.response is not None:
            unjudged[(answer.prompt, answer.reference, answer.response)].append(answer.index)
    scores: Scores = {}
    for judged in results.lines:
        waiting = unjudged.get((judged.prompt, judged.reference, judged.response))
        if not waiting:
            raise EvaluationResultsUnreadable(
                f"{judged.source}:{judged.line}: inputRecord: its prompt, referenceResponse and response match no "
                f"unjudged answer of the {side} in {responses_uri}"
            )
        scores[waiting.pop(0)] = judged.scores
    return scores


def metric_card(name: str, teacher: Scores, student: Scores) -> MetricCard:
    paired = [
        (teacher[index][name], student[index][name])
        for index in sorted(teacher.keys() & student.keys())
        if teacher[index].get(name) is not None and student[index].get(name) is not None
    ]
    if not paired:
        return MetricCard(
            name=name, teacher_mean=None, student_mean=None, student_share=None, student_win_rate=None,
            judged_prompts=0,
        )  # fmt: skip
    teacher_mean = statistics.fmean(t for t, _ in paired if t is not None)
    student_mean = statistics.fmean(s for _, s in paired if s is not None)
    wins = sum(1.0 if s > t else 0.5 if s == t else 0.0 for t, s in paired if t is not None and s is not None)
    return MetricCard(
        name=name,
        teacher_mean=teacher_mean,
        student_mean=student_mean,
        student_share=student_mean / teacher_mean if teacher_mean > 0 else None,
        student_win_rate=wins / len(paired),
        judged_prompts=len(paired),
    )


def decide(metrics: list[MetricCard], settings: PipelineSettings) -> Decision:
    """promote when the student keeps at least PROMOTE_MIN_SHARE of the teacher's mean score on DECISION_METRIC."""
    name, threshold = settings.decision_metric, settings.promote_min_share
    card = next((m for m in metrics if m.name == name), None)
    if card is None or card.teacher_mean is None or card.student_mean is None:
        return Decision(
            outcome="hold", metric=name, share=None, threshold=threshold,
            reason=f"hold: no prompt has a {name} score on both sides, so there is nothing to compare",
        )  # fmt: skip
    compared = (
        f"the student's mean {name} is {card.student_mean:.3f} against the teacher's {card.teacher_mean:.3f} over "
        f"{card.judged_prompts} prompts scored on both sides"
    )
    if card.student_share is None:
        return Decision(
            outcome="hold", metric=name, share=None, threshold=threshold,
            reason=f"hold: {compared}; the teacher's mean is 0, so there is no share to compare",
        )  # fmt: skip
    share = card.student_share
    if share >= threshold:
        outcome: Outcome = "promote"
        verdict = f"at least the {threshold:.0%} required (PROMOTE_MIN_SHARE)"
    else:
        outcome = "hold"
        verdict = f"below the {threshold:.0%} required (PROMOTE_MIN_SHARE)"
    reason = f"{outcome}: {compared}: a share of {share:.1%}, {verdict}"
    return Decision(outcome=outcome, metric=name, share=share, threshold=threshold, reason=reason)


def prices(run: Run, settings: PipelineSettings) -> Prices:
    """Each side's price per million tokens, from the deployment's configuration only, keyed by the model ID as
    the run names it."""

    def card(model_id: str) -> PriceCard | None:
        price: ModelPrice | None = settings.model_prices_usd.get(model_id)
        if price is None:
            return None
        return PriceCard(
            model_id=model_id,
            input_per_million_tokens=price.input_per_million_tokens,
            output_per_million_tokens=price.output_per_million_tokens,
        )

    missing = []
    teacher = card(run.teacher_model_id)
    if teacher is None:
        missing.append(f"teacher: no price for {run.teacher_model_id} in {PRICES_SOURCE}")
    student: PriceCard | None = None
    if run.serving_mode == "provisioned":
        missing.append(
            f"student: {run.student_model_id} is served on Provisioned Throughput here, billed per model unit and "
            "hour (PROVISIONED_THROUGHPUT_HOURLY_RATE_USD), not per token"
        )
    elif (student := card(run.student_model_id)) is None:
        missing.append(f"student: no price for {run.student_model_id} in {PRICES_SOURCE}")
    return Prices(teacher=teacher, student=student, missing=missing)


def logged_volume(run: Run, s3: S3Gateway) -> tuple[Volume | None, str]:
    """The teacher's traffic in the logs the run trained from, as Preflight's scan counted it; None with the reason
    when the run did not train on logs or the scan says nothing usable."""
    if run.training_source_kind != "invocationLogs":
        return None, "the run trained on a prompt file, not on invocation logs: no traffic volume to price"
    if run.preflight_report_uri is None:
        return None, "the run has no Preflight report to read the invocation-log scan from"
    field = "invocationLogs.volume"
    source = f"{run.preflight_report_uri}: {field}"
    try:
        scanned = json.loads(s3.read_text(S3Location.parse(run.preflight_report_uri)))["invocationLogs"]["volume"]
        counts = [scanned[key] for key in ("invocations", "inputTokens", "outputTokens")]
        first, last = scanned.get("firstTimestamp"), scanned.get("lastTimestamp")
    except TransientError:
        raise  # for the state machine to retry: a throttled read says nothing about the volume
    except (WorkflowError, ValueError, KeyError, TypeError, AttributeError) as error:
        return None, f"{source} unreadable: {error!r}"
    if any(isinstance(count, bool) or not isinstance(count, int) or count < 0 for count in counts):
        return None, f"{source}: the counts are not counts: {counts}"
    invocations, input_tokens, output_tokens = counts
    if not invocations:
        return None, f"{source}: no successful call of the teacher {run.teacher_model_id} matched the run's filter"
    days: float | None = None
    try:
        if isinstance(first, str) and isinstance(last, str):
            days = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() / _DAY_SECONDS
    except ValueError:
        days = None
    volume = Volume(
        invocations=invocations,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        first_timestamp=first if isinstance(first, str) else None,
        last_timestamp=last if isinstance(last, str) else None,
        days=days,
        source=source,
    )
    return volume, source


def _cost(input_tokens: float, output_tokens: float, price: PriceCard) -> float:
    return (
        input_tokens * price.input_per_million_tokens + output_tokens * price.output_per_million_tokens
    ) / _PER_MILLION


def token_ratio(teacher: list[ResponseLine], student: list[ResponseLine]) -> TokenRatio | None:
    counted = {a.index: a for a in teacher if a.succeeded and a.input_tokens and a.output_tokens}
    pairs = [
        (counted[a.index], a)
        for a in student
        if a.index in counted and a.succeeded and a.input_tokens is not None and a.output_tokens is not None
    ]
    if not pairs:
        return None
    return TokenRatio(
        input=sum(s.input_tokens or 0 for _, s in pairs) / sum(t.input_tokens or 0 for t, _ in pairs),
        output=sum(s.output_tokens or 0 for _, s in pairs) / sum(t.output_tokens or 0 for t, _ in pairs),
        prompts=len(pairs),
    )


def monthly_saving(
    ratio: TokenRatio | None, priced: Prices, volume: Volume | None, volume_reason: str
) -> tuple[float | None, str]:
    """What a month of the logged traffic costs on the teacher minus what it would cost on the student. The logs
    count the teacher's tokens; the student's are those scaled by the two sides' measured token ratio on the
    held-out prompts (its answers may be longer or shorter, its tokenizer another)."""
    if volume is None:
        return None, f"no volume: {volume_reason}"
    if priced.teacher is None or priced.student is None:
        return None, "no price: " + "; ".join(priced.missing)
    if not volume.days or volume.days <= 0:
        return None, f"{volume.source}: the logs cover no time span, so there is no rate per month"
    if ratio is None:
        return None, "no held-out prompt answered by both sides with token counts to scale the student's tokens by"
    per_month = _MONTH_DAYS / volume.days
    teacher_cost = _cost(volume.input_tokens, volume.output_tokens, priced.teacher) * per_month
    student_cost = (
        _cost(volume.input_tokens * ratio.input, volume.output_tokens * ratio.output, priced.student) * per_month
    )
    return teacher_cost - student_cost, (
        f"{volume.invocations:,} teacher calls over {volume.days:.2f} days ({volume.source}), per month of "
        f"{_MONTH_DAYS} days: ${teacher_cost:,.2f} on the teacher; ${student_cost:,.2f} on the student at its "
        f"token ratio to the teacher on the {ratio.prompts} held-out prompts both answered (input x{ratio.input:.2f}, "
        f"output x{ratio.output:.2f})"
    )


def build_scorecard(
    run: Run,
    evaluation: Evaluation,
    settings: PipelineSettings,
    s3: S3Gateway,
    served_by: dict[Side, str | None] | None = None,
) -> Scorecard:
    answers = {side: read_response_lines(S3Location.parse(run.responses_uri(side)), s3) for side in SIDES}
    results = {side: read_results(run, side, s3) for side in SIDES}
    scores = {side: scores_by_prompt(side, answers[side], results[side], run.responses_uri(side)) for side in SIDES}
    cards = {}
    for side in SIDES:
        summary = summarize(side_model_id(run, side), answers[side], run.responses_uri(side))
        cards[side] = SideCard(
            model_id=summary.model_id,
            served_by=(served_by or {}).get(side),
            evaluation_job_arn=evaluation.job(side).job_arn,
            responses_uri=summary.responses_uri,
            prompts=summary.prompts,
            answered=summary.succeeded,
            judged=len(scores[side]),
            latency_p50_ms=summary.latency_p50_ms,
            latency_p95_ms=summary.latency_p95_ms,
            input_tokens=summary.input_tokens,
            output_tokens=summary.output_tokens,
        )
    metrics = [metric_card(name, scores["teacher"], scores["student"]) for name in metric_names(settings)]
    priced = prices(run, settings)
    volume, volume_source = logged_volume(run, s3)
    ratio = token_ratio(answers["teacher"], answers["student"])
    estimated, saving_reason = monthly_saving(ratio, priced, volume, volume_source)
    return Scorecard(
        execution_arn=run.execution_arn,
        serving_mode=run.serving_mode,
        teacher=cards["teacher"],
        student=cards["student"],
        judge_model_id=settings.judge_model_id,
        metrics=metrics,
        prices=priced,
        volume=volume,
        volume_reason=None if volume is not None else volume_source,
        token_ratio=ratio,
        estimated_monthly_saving_usd=estimated,
        saving_reason=saving_reason,
        decision=decide(metrics, settings),
        sources=[uri for side in SIDES for uri in results[side].files],
    )


def record_scorecard(
    run: Run,
    evaluation: Evaluation,
    settings: PipelineSettings,
    s3: S3Gateway,
    served_by: dict[Side, str | None] | None = None,
) -> ScorecardSummary:
    """The scorecard into `run.scorecard_uri`; its decision into the state."""
    scorecard = build_scorecard(run, evaluation, settings, s3, served_by)
    s3.put_json(S3Location.parse(run.scorecard_uri), scorecard_document(scorecard))
    return ScorecardSummary(
        decision=scorecard.decision.outcome,
        reason=scorecard.decision.reason,
        decision_metric=scorecard.decision.metric,
        student_share=scorecard.decision.share,
        scorecard_uri=run.scorecard_uri,
        serving_mode=run.serving_mode,
    )


def scorecard_document(scorecard: Scorecard) -> dict[str, Any]:
    document: dict[str, Any] = scorecard.model_dump(mode="json", by_alias=True)
    return document
