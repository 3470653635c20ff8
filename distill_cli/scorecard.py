"""A run's scorecard (report/scorecard.json, schema `bedrock-distill-scorecard/1`, written by its Score step) as
the operator reads it: its figures and a few lines of text (`distill_cli.report` draws its bar chart).

The file is the pipeline's own output, but it is read from S3 after the fact: a field missing or of the wrong
type is named (`scorecard.json: metrics[1].teacherMean: ...`) instead of raising a KeyError or drawing a wrong bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

SCORECARD_SCHEMA: Final = "bedrock-distill-scorecard/1"
_BUILTIN_PREFIX = "Builtin."


class ScorecardUnreadableError(ValueError):
    """scorecard.json does not hold what the schema promises."""


@dataclass(frozen=True)
class MetricScore:
    name: str
    teacher_mean: float | None
    student_mean: float | None
    student_share: float | None
    student_win_rate: float | None
    judged_prompts: int

    @property
    def label(self) -> str:
        """The metric's name without the `Builtin.` every built-in judge metric carries."""
        return self.name.removeprefix(_BUILTIN_PREFIX)


@dataclass(frozen=True)
class SideSummary:
    model_id: str
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    prompts: int | None
    judged: int | None


@dataclass(frozen=True)
class Scorecard:
    """What the text and the chart show; `document` is the whole file, for report.json."""

    document: Mapping[str, Any]
    serving_mode: str
    judge_model_id: str
    teacher: SideSummary
    student: SideSummary
    metrics: tuple[MetricScore, ...]
    outcome: str
    decision_metric: str
    share: float | None
    threshold: float
    reason: str
    prices: Mapping[str, Any]
    estimated_monthly_saving_usd: float | None
    volume: Mapping[str, Any] | None

    @property
    def headline(self) -> str:
        """The decision in one line: what the chart's title and the report's first scorecard line say."""
        metric = self.decision_metric.removeprefix(_BUILTIN_PREFIX)
        return (
            f"{self.outcome}: the student keeps {percent(self.share)} of the teacher's {metric} score "
            f"(threshold {self.threshold:.0%})"
        )


def parse_scorecard(document: Any, source: str = "scorecard.json") -> Scorecard:
    """The scorecard's figures; ScorecardUnreadableError naming `source` and the field when one is not there."""
    reader = _Reader(source)
    top = reader.mapping(document, "")
    if top.get("schema") != SCORECARD_SCHEMA:
        raise ScorecardUnreadableError(f"{source}: schema: expected {SCORECARD_SCHEMA!r}, got {top.get('schema')!r}")
    decision = reader.mapping(top.get("decision"), "decision")
    metrics = reader.sequence(top.get("metrics"), "metrics")
    if not metrics:
        raise ScorecardUnreadableError(f"{source}: metrics: no metric was scored")
    volume = top.get("volume")
    return Scorecard(
        document=top,
        serving_mode=reader.text(top.get("servingMode"), "servingMode"),
        judge_model_id=reader.text(top.get("judgeModelId"), "judgeModelId"),
        teacher=reader.side(top.get("teacher"), "teacher"),
        student=reader.side(top.get("student"), "student"),
        metrics=tuple(reader.metric(metric, f"metrics[{i}]") for i, metric in enumerate(metrics)),
        outcome=reader.text(decision.get("outcome"), "decision.outcome"),
        decision_metric=reader.text(decision.get("metric"), "decision.metric"),
        share=reader.number(decision.get("share"), "decision.share", optional=True),
        threshold=reader.required_number(decision.get("threshold"), "decision.threshold"),
        reason=reader.text(decision.get("reason"), "decision.reason"),
        prices=reader.mapping(top.get("prices") or {}, "prices"),
        estimated_monthly_saving_usd=reader.number(
            top.get("estimatedMonthlySavingUsd"), "estimatedMonthlySavingUsd", optional=True
        ),
        volume=reader.mapping(volume, "volume") if volume is not None else None,
    )


def scorecard_lines(scorecard: Scorecard) -> list[str]:
    """The scorecard as plain lines: decision, per-metric scores, latency, prices and the saving they imply."""
    teacher, student = scorecard.teacher, scorecard.student
    lines = [
        f"scorecard: {scorecard.headline}",
        f"  reason: {scorecard.reason}",
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
    source = prices.get("source", "")
    lines.append(
        f"  price per million input/output tokens: teacher {_price(prices.get('teacher'))}, "
        f"student {_price(prices.get('student'))}" + (f" ({source})" if source else "")
    )
    lines.extend(f"    {missing}" for missing in prices.get("missing") or () if isinstance(missing, str))
    saving = scorecard.estimated_monthly_saving_usd
    volume = scorecard.volume
    reason = scorecard.document.get("savingReason")
    if saving is None:
        lines.append(f"  estimated monthly saving: n/a ({reason or 'needs both prices and the invocation-log volume'})")
    elif isinstance(reason, str) and reason:
        lines.append(f"  estimated monthly saving: ${saving:,.2f}: {reason}")
    else:
        seen = (
            f" at {volume.get('inputTokens', 0):,} input and {volume.get('outputTokens', 0):,} output tokens a month"
            f" ({volume.get('source', '')})"
            if volume
            else ""
        )
        lines.append(f"  estimated monthly saving: ${saving:,.2f}{seen}")
    return lines


def formatted(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _latency(side: SideSummary) -> str:
    return f"{formatted(side.latency_p50_ms, '.0f')}/{formatted(side.latency_p95_ms, '.0f')} ms"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _price(price: Any) -> str:
    if not isinstance(price, Mapping):
        return "not configured"
    return f"${price.get('inputPerMillionTokens')}/${price.get('outputPerMillionTokens')}"


@dataclass(frozen=True)
class _Reader:
    source: str

    def _problem(self, field: str, reason: str) -> ScorecardUnreadableError:
        return ScorecardUnreadableError(f"{self.source}: {field or '(top level)'}: {reason}")

    def mapping(self, value: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self._problem(field, f"expected an object, got {type(value).__name__}")
        return value

    def sequence(self, value: Any, field: str) -> Sequence[Any]:
        if not isinstance(value, list):
            raise self._problem(field, f"expected a list, got {type(value).__name__}")
        return value

    def text(self, value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise self._problem(field, f"expected a string, got {type(value).__name__}")
        return value

    def number(self, value: Any, field: str, *, optional: bool) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self._problem(field, f"expected a number, got {value!r}")
        return float(value)

    def required_number(self, value: Any, field: str) -> float:
        number = self.number(value, field, optional=False)
        assert number is not None  # optional=False never returns None
        return number

    def count(self, value: Any, field: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._problem(field, f"expected a count, got {value!r}")
        return value

    def side(self, value: Any, field: str) -> SideSummary:
        side = self.mapping(value, field)
        return SideSummary(
            model_id=self.text(side.get("modelId"), f"{field}.modelId"),
            latency_p50_ms=self.number(side.get("latencyP50Ms"), f"{field}.latencyP50Ms", optional=True),
            latency_p95_ms=self.number(side.get("latencyP95Ms"), f"{field}.latencyP95Ms", optional=True),
            prompts=self.count(side.get("prompts"), f"{field}.prompts"),
            judged=self.count(side.get("judged"), f"{field}.judged"),
        )

    def metric(self, value: Any, field: str) -> MetricScore:
        metric = self.mapping(value, field)
        return MetricScore(
            name=self.text(metric.get("name"), f"{field}.name"),
            teacher_mean=self.number(metric.get("teacherMean"), f"{field}.teacherMean", optional=True),
            student_mean=self.number(metric.get("studentMean"), f"{field}.studentMean", optional=True),
            student_share=self.number(metric.get("studentShare"), f"{field}.studentShare", optional=True),
            student_win_rate=self.number(metric.get("studentWinRate"), f"{field}.studentWinRate", optional=True),
            judged_prompts=self.count(metric.get("judgedPrompts"), f"{field}.judgedPrompts") or 0,
        )
