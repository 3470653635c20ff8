"""`distill list`: the pipeline's recent executions, each with its outcome in a few words."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bedrock_distill.gateways.stepfunctions import UNSUCCESSFUL_STATUSES, Execution, StepFunctionsGateway
from distill_cli.executions import described, failure

_CAUSE_CHARACTERS = 120


@dataclass(frozen=True)
class Listed:
    execution: Execution
    outcome: str

    def to_dict(self, now: datetime) -> dict[str, Any]:
        execution = self.execution
        return {
            "executionArn": execution.arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": execution.start.isoformat(),
            "stopDate": execution.stop.isoformat() if execution.stop else None,
            "elapsedSeconds": round(execution.elapsed(now).total_seconds(), 3),
            "outcome": self.outcome,
        }


def recent_runs(
    executions: StepFunctionsGateway, state_machine_arn: str, limit: int, status: str | None
) -> list[Listed]:
    listed = []
    for summary in executions.recent(state_machine_arn, limit, status):
        execution = described(executions, summary.arn)
        if execution.status in UNSUCCESSFUL_STATUSES and execution.error is None:
            error, cause = failure(executions, execution.arn)
            execution = replace(execution, error=error, cause=cause)
        listed.append(Listed(execution, outcome(execution)))
    return listed


def outcome(execution: Execution) -> str:
    """A line a person can scan: the loss, the validation and whether the PT is gone; or why it failed."""
    if execution.status == "RUNNING":
        return "running"
    if execution.status != "SUCCEEDED":
        cause = " ".join((execution.cause or "").split())
        if len(cause) > _CAUSE_CHARACTERS:
            cause = cause[: _CAUSE_CHARACTERS - 3] + "..."
        return f"{execution.error or execution.status}: {cause}" if cause else (execution.error or execution.status)
    parts = []
    loss = execution.section("metrics").get("finalTrainingLoss")
    if loss is not None:
        parts.append(f"final loss {loss:.3f}")
    validation = execution.section("serving", "validation")
    if validation:
        parts.append(f"validation {validation.get('succeeded')}/{validation.get('prompts')} prompts")
        similarity = validation.get("meanSimilarity")
        if similarity is not None:
            parts.append(f"similarity {similarity:.1f}")
    deletion = execution.section("deletion")
    if deletion:
        parts.append("PT deleted" if deletion.get("deleted") else "PT NOT deleted")
    return ", ".join(parts) or "succeeded"
