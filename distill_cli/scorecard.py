"""A run's scorecard (report/scorecard.json, written by its Score step) as the operator reads it: the runtime's own
model of the file (`bedrock_distill.workflow.scorecard.Scorecard`, schema `bedrock-distill-scorecard/1`) and a few
lines of text (`distill_cli.report` draws its bar chart).

The file is read from S3 after the fact: a field missing or of the wrong type is named
(`s3://.../scorecard.json: metrics.1.teacherMean: ...`) instead of raising or drawing a wrong bar.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from bedrock_distill.workflow.scorecard import SCHEMA, MetricCard, PriceCard, Scorecard, SideCard

_BUILTIN_PREFIX: Final = "Builtin."


class ScorecardUnreadableError(ValueError):
    """scorecard.json does not hold what its schema promises."""


def parse_scorecard(document: Any, source: str = "scorecard.json") -> Scorecard:
    """The scorecard's figures; ScorecardUnreadableError naming `source` and the field when one is not there."""
    if not isinstance(document, dict):
        raise ScorecardUnreadableError(f"{source}: (top level): expected an object, got {type(document).__name__}")
    if document.get("schema") != SCHEMA:
        raise ScorecardUnreadableError(f"{source}: schema: expected {SCHEMA!r}, got {document.get('schema')!r}")
    try:
        scorecard = Scorecard.model_validate(document)
    except ValidationError as invalid:
        problems = [
            f"{source}: {'.'.join(str(part) for part in error['loc'])}: {error['msg']} (got {error['input']!r})"
            for error in invalid.errors(include_url=False)
        ]
        raise ScorecardUnreadableError("; ".join(problems)) from None
    if not scorecard.metrics:
        raise ScorecardUnreadableError(f"{source}: metrics: no metric was scored")
    return scorecard


def metric_label(metric: MetricCard) -> str:
    """The metric's name without the `Builtin.` every built-in judge metric carries."""
    return metric.name.removeprefix(_BUILTIN_PREFIX)


def headline(scorecard: Scorecard) -> str:
    """The decision in one line: what the chart's title and the report's first scorecard line say."""
    decision = scorecard.decision
    return (
        f"{decision.outcome}: the student keeps {percent(decision.share)} of the teacher's "
        f"{decision.metric.removeprefix(_BUILTIN_PREFIX)} score (threshold {decision.threshold:.0%})"
    )


def scorecard_lines(scorecard: Scorecard) -> list[str]:
    """The scorecard as plain lines: decision, per-metric scores, latency, prices and the saving they imply."""
    teacher, student = scorecard.teacher, scorecard.student
    lines = [
        f"scorecard: {headline(scorecard)}",
        f"  reason: {scorecard.decision.reason}",
        f"  teacher {teacher.model_id} vs student {student.model_id} (served {scorecard.serving_mode}), "
        f"judged by {scorecard.judge_model_id}",
    ]
    for metric in scorecard.metrics:
        lines.append(
            f"  {metric.name}: teacher {formatted(metric.teacher_mean, '.3f')}, student "
            f"{formatted(metric.student_mean, '.3f')} ({percent(metric.student_share)} of the teacher's), "
            f"student win rate {percent(metric.student_win_rate)} over {metric.judged_prompts} prompts"
        )
    lines.append(f"  latency p50/p95: teacher {_latency(teacher)}, student {_latency(student)}")
    prices = scorecard.prices
    lines.append(
        f"  price per million input/output tokens: teacher {_price(prices.teacher)}, "
        f"student {_price(prices.student)} ({prices.source})"
    )
    lines.extend(f"    {missing}" for missing in prices.missing)
    saving = scorecard.estimated_monthly_saving_usd
    if saving is None:
        lines.append(f"  estimated monthly saving: n/a ({scorecard.saving_reason})")
    else:
        lines.append(f"  estimated monthly saving: ${saving:,.2f}: {scorecard.saving_reason}")
    return lines


def formatted(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _latency(side: SideCard) -> str:
    return f"{formatted(side.latency_p50_ms, '.0f')}/{formatted(side.latency_p95_ms, '.0f')} ms"


def _price(price: PriceCard | None) -> str:
    if price is None:
        return "not configured"
    return f"${price.input_per_million_tokens}/${price.output_per_million_tokens}"
