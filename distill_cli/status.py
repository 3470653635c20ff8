"""Where a run is: the execution, its distillation job and its Provisioned Throughput, and for how long."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from pydantic.alias_generators import to_camel

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import UNSUCCESSFUL_STATUSES, Execution, StepFunctionsGateway
from bedrock_distill.workflow.run import resource_names
from distill_cli.executions import current_state, described, failure

NOT_CREATED: Final = "not created"
NONE: Final = "none"  # a PT never created, or already deleted
DELETED: Final = "deleted"
# statusDetails keys in the order a job goes through them, with the words a person reads.
_JOB_PHASES: Final = (
    ("validationDetails", "validation"),
    ("dataProcessingDetails", "data processing"),
    ("trainingDetails", "training"),
)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        import time  # noqa: PLC0415

        time.sleep(seconds)


@dataclass(frozen=True)
class JobState:
    name: str
    status: str
    arn: str | None = None
    phase: str | None = None
    failure_message: str | None = None
    output_model_arn: str | None = None


@dataclass(frozen=True)
class ThroughputState:
    name: str
    status: str
    arn: str | None = None
    model_units: int | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class RunStatus:
    execution: Execution
    current_state: str | None
    job: JobState
    provisioned_throughput: ThroughputState
    elapsed: timedelta
    error: str | None = None
    cause: str | None = None

    @property
    def finished(self) -> bool:
        return self.execution.finished

    @property
    def succeeded(self) -> bool:
        return self.execution.status == "SUCCEEDED"

    def milestone(self) -> tuple[str | None, ...]:
        """What a person watching cares about changing (elapsed time always changes)."""
        return (
            self.execution.status,
            self.current_state,
            self.job.status,
            self.job.phase,
            self.provisioned_throughput.status,
        )

    def to_dict(self) -> dict[str, Any]:
        execution = self.execution
        return {
            "executionArn": execution.arn,
            "name": execution.name,
            "status": execution.status,
            "currentState": self.current_state,
            "startDate": execution.start.isoformat(),
            "stopDate": execution.stop.isoformat() if execution.stop else None,
            "elapsedSeconds": round(self.elapsed.total_seconds(), 3),
            "job": _camel(vars(self.job)),
            "provisionedThroughput": _camel(vars(self.provisioned_throughput)),
            "error": self.error,
            "cause": self.cause,
        }


def _camel(fields: dict[str, Any]) -> dict[str, Any]:
    return {to_camel(key): value for key, value in fields.items()}


def run_status(executions: StepFunctionsGateway, bedrock: BedrockGateway, arn: str, now: datetime) -> RunStatus:
    execution = described(executions, arn)
    names = resource_names(execution.name, execution.arn)
    error, cause = execution.error, execution.cause
    if execution.status in UNSUCCESSFUL_STATUSES and error is None:
        error, cause = failure(executions, arn)
    return RunStatus(
        execution=execution,
        current_state=current_state(executions, arn),
        job=_job_state(names.job_name, bedrock.find_model_customization_job(names.job_name)),
        provisioned_throughput=_throughput_state(
            names.provisioned_model_name,
            bedrock.find_provisioned_model_throughput(names.provisioned_model_name),
            execution,
        ),
        elapsed=execution.elapsed(now),
        error=error,
        cause=cause,
    )


def watch(
    fetch: Callable[[], RunStatus],
    show: Callable[[RunStatus], None],
    clock: Clock,
    interval_seconds: float,
) -> RunStatus:
    """Shows the run's status every interval until its execution ends; returns the final status."""
    while True:
        status = fetch()
        show(status)
        if status.finished:
            return status
        clock.sleep(interval_seconds)


def _job_state(name: str, job: dict[str, Any] | None) -> JobState:
    if job is None:
        return JobState(name=name, status=NOT_CREATED)
    details = job.get("statusDetails", {})
    phase = next(
        (
            words
            for key, words in _JOB_PHASES
            if details.get(key, {}).get("status") not in (None, "Completed", "NotStarted")
        ),
        None,
    )
    return JobState(
        name=name,
        status=str(job["status"]),
        arn=job.get("jobArn"),
        phase=phase,
        failure_message=job.get("failureMessage"),
        output_model_arn=job.get("outputModelArn"),
    )


def _throughput_state(name: str, throughput: dict[str, Any] | None, execution: Execution) -> ThroughputState:
    if throughput is None:
        deleted = execution.section("deletion").get("deleted") is True
        return ThroughputState(name=name, status=DELETED if deleted else NONE)
    return ThroughputState(
        name=name,
        status=str(throughput["status"]),
        arn=throughput.get("provisionedModelArn"),
        model_units=throughput.get("modelUnits"),
        failure_message=throughput.get("failureMessage"),
    )
