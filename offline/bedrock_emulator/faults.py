"""Faults to inject, per call or per resource, so tests can drive every failure path on purpose.

Errors are raised before validation and state changes, as a throttled or failed request leaves no trace
in the service. Resource outcomes (a job that fails or stops, a Provisioned Throughput, deployment or evaluation
job that fails, an evaluation job whose output file is garbled) are taken by the next resource created that
matches. Lost events are the next job state-change events that match, dropped instead of delivered, as
EventBridge delivery from Bedrock is best-effort. A refused deletion (`conflict_on_delete`,
`conflict_on_model_deployment_delete`) is checked on the resource the request names, so it can single out one.

`degrade_student` is not a one-off: it sets how faithfully a distilled model answers like its teacher (see
`runtime`), until set again or `clear()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TypeVar

from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.models import find_operation, modeled_error_codes

_Value = TypeVar("_Value")
JOB_STATUSES = frozenset({"InProgress", "Completed", "Failed", "Stopping", "Stopped"})
# How often a distilled model answers a prompt as its teacher would, unless `degrade_student` says otherwise.
DEFAULT_STUDENT_FIDELITY = 0.9


@dataclass
class _ErrorRule:
    operation: str
    error: BedrockError
    first: int
    times: int | None
    calls: int = 0

    def fires(self) -> bool:
        self.calls += 1
        return self.calls >= self.first and (self.times is None or self.calls < self.first + self.times)

    def exhausted(self) -> bool:
        return self.times is not None and self.calls >= self.first + self.times - 1


@dataclass
class _LostEvents:
    status: str | None
    job_name: str | None
    times: int | None

    def matches(self, status: str, job_name: str) -> bool:
        return self.status in (None, status) and self.job_name in (None, job_name)


@dataclass
class _DeleteConflicts:
    kind: str  # the resource's kind in its ARN: provisioned-model or custom-model-deployment
    name: str | None
    times: int | None


@dataclass(frozen=True)
class JobOutcome:
    """How a job ends when its training would have completed: `status` is "Failed" or "Stopped"."""

    status: str
    message: str | None = None


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_ErrorRule] = []
        self._job_outcomes: list[tuple[str | None, JobOutcome]] = []
        self._provisioned_throughput_failures: list[tuple[str | None, str]] = []
        self._lost_events: list[_LostEvents] = []
        self._delete_conflicts: list[_DeleteConflicts] = []
        self._model_deployment_failures: list[tuple[str | None, str]] = []
        self._evaluation_failures: list[tuple[str | None, str]] = []
        self._garbled_evaluation_outputs: list[tuple[str | None, bool]] = []
        self._student_fidelity: list[tuple[str | None, float]] = []

    def raise_on(
        self,
        operation: str,
        error_code: str,
        *,
        nth: int = 1,
        times: int | None = 1,
        message: str | None = None,
    ) -> None:
        """Answer the `nth` call of `operation` from now on, and the `times - 1` calls after it, with
        `error_code` (`times=None`: every call from the `nth` on).

        `error_code` must be one the operation can raise in botocore's model, e.g. "InternalServerException"
        for a transient failure or "AccessDeniedException" for a fatal one.
        """
        modeled = modeled_error_codes(find_operation(operation))
        if error_code not in modeled:
            raise ValueError(f"{operation} cannot raise {error_code}; its modeled errors are {sorted(modeled)}")
        if nth < 1 or (times is not None and times < 1):
            raise ValueError("nth and times count calls from 1")
        error = BedrockError(error_code, message or f"Injected {error_code} on {operation}")
        with self._lock:
            self._rules.append(_ErrorRule(operation, error, nth, times))

    def throttle(self, operation: str, *, nth: int = 1, times: int | None = 1) -> None:
        """ThrottlingException (HTTP 429) on the `nth` call of `operation`, `times` calls in a row."""
        self.raise_on(operation, "ThrottlingException", nth=nth, times=times, message="Too many requests")

    def conflict_on_delete(self, provisioned_model_name: str | None = None, *, times: int | None = 1) -> None:
        """The next `times` DeleteProvisionedModelThroughput calls on the PT named `provisioned_model_name` (any
        PT by default) raise ConflictException, as for a PT still being created or updated; `times=None`: every
        one until `clear()`. The PT is untouched; deleting it after that succeeds.

        Checked once the PT is found, so deleting one that does not exist is still ResourceNotFoundException.
        """
        self._conflict_on_delete("provisioned-model", provisioned_model_name, times)

    def conflict_on_model_deployment_delete(
        self, model_deployment_name: str | None = None, *, times: int | None = 1
    ) -> None:
        """The next `times` DeleteCustomModelDeployment calls on the deployment named `model_deployment_name` (any
        by default) raise ConflictException (botocore models it for that operation); `times=None`: every one until
        `clear()`. The deployment is untouched; deleting it after that succeeds. Checked once the deployment is
        found, so deleting one that does not exist is still ResourceNotFoundException."""
        self._conflict_on_delete("custom-model-deployment", model_deployment_name, times)

    def _conflict_on_delete(self, kind: str, name: str | None, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError("times counts calls from 1; None refuses every deletion until clear()")
        with self._lock:
            self._delete_conflicts.append(_DeleteConflicts(kind, name, times))

    def fail_job(self, message: str = "Internal error during training", *, job_name: str | None = None) -> None:
        """The next job created (or the one named `job_name`) ends Failed with `message` instead of
        Completed, with no output model."""
        with self._lock:
            self._job_outcomes.append((job_name, JobOutcome("Failed", message)))

    def stop_job(self, *, job_name: str | None = None) -> None:
        """The next job created (or the one named `job_name`) ends Stopped instead of Completed, as if
        someone stopped it outside the workflow."""
        with self._lock:
            self._job_outcomes.append((job_name, JobOutcome("Stopped")))

    def fail_provisioned_throughput(
        self, message: str = "Insufficient capacity", *, provisioned_model_name: str | None = None
    ) -> None:
        """The next Provisioned Throughput created (or the one of that name) goes Creating -> Failed with
        `message`; it still exists and must be deleted."""
        with self._lock:
            self._provisioned_throughput_failures.append((provisioned_model_name, message))

    def fail_model_deployment(
        self, message: str = "Insufficient capacity to deploy the model", *, model_deployment_name: str | None = None
    ) -> None:
        """The next custom model deployment created (or the one of that name) goes Creating -> Failed with
        `message`; it still exists until deleted."""
        with self._lock:
            self._model_deployment_failures.append((model_deployment_name, message))

    def fail_evaluation_job(
        self, message: str = "Internal error while evaluating", *, job_name: str | None = None
    ) -> None:
        """The next evaluation job created (or the one named `job_name`) ends Failed with `message` in its
        failureMessages instead of Completed, writing no results."""
        with self._lock:
            self._evaluation_failures.append((job_name, message))

    def garble_evaluation_output(self, *, job_name: str | None = None) -> None:
        """The next evaluation job created (or the one named `job_name`) completes, but the last line of its
        output file is cut off mid-JSON, as a reader must not trust what it did not parse."""
        with self._lock:
            self._garbled_evaluation_outputs.append((job_name, True))

    def degrade_student(self, fidelity: float, *, custom_model_name: str | None = None) -> None:
        """From now on the distilled model named `custom_model_name` (every one by default) answers a prompt as its
        teacher would with probability `fidelity` (0..1, decided per prompt, deterministically), and off the point
        otherwise; the default is DEFAULT_STUDENT_FIDELITY. A lower fidelity makes a worse student, which an
        evaluation job then scores lower. The latest setting that names the model wins over one for every model."""
        if not 0.0 <= fidelity <= 1.0:
            raise ValueError(f"fidelity is a probability between 0 and 1, not {fidelity}")
        with self._lock:
            self._student_fidelity.append((custom_model_name, fidelity))

    def student_fidelity(self, custom_model_name: str) -> float:
        with self._lock:
            named = [value for name, value in self._student_fidelity if name == custom_model_name]
            anyone = [value for name, value in self._student_fidelity if name is None]
        return (named or anyone or [DEFAULT_STUDENT_FIDELITY])[-1]

    def lose_job_events(self, times: int | None = 1, status: str | None = None, *, job_name: str | None = None) -> None:
        """Drop the next `times` job state-change events (`times=None`: every one until `clear()`) whose
        `detail.jobStatus` is `status` (any by default), of the job named `job_name` (any by default).

        The job itself moves on as usual: only the event is lost, so a waiter needs its poll fallback.
        """
        if times is not None and times < 1:
            raise ValueError("times counts events from 1; None loses every matching event")
        if status is not None and status not in JOB_STATUSES:
            raise ValueError(f"{status!r} is not a job status; one of {sorted(JOB_STATUSES)}")
        with self._lock:
            self._lost_events.append(_LostEvents(status, job_name, times))

    def clear(self) -> None:
        """Forget every fault not yet triggered."""
        with self._lock:
            self._rules.clear()
            self._job_outcomes.clear()
            self._provisioned_throughput_failures.clear()
            self._lost_events.clear()
            self._delete_conflicts.clear()
            self._model_deployment_failures.clear()
            self._evaluation_failures.clear()
            self._garbled_evaluation_outputs.clear()
            self._student_fidelity.clear()

    def error_for(self, operation: str) -> BedrockError | None:
        """Counts this call against every rule for `operation`; the error to raise, if one fires."""
        fired: BedrockError | None = None
        with self._lock:
            for rule in [rule for rule in self._rules if rule.operation == operation]:
                if rule.fires() and fired is None:
                    fired = rule.error
                if rule.exhausted():
                    self._rules.remove(rule)
        return fired

    def take_job_outcome(self, job_name: str) -> JobOutcome | None:
        with self._lock:
            return _take(self._job_outcomes, job_name)

    def event_lost(self, status: str, job_name: str) -> bool:
        """Counts this event against the first matching lost-events rule; whether it is to be dropped."""
        with self._lock:
            for rule in self._lost_events:
                if rule.matches(status, job_name):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._lost_events.remove(rule)
                    return True
        return False

    def take_delete_conflict(self, provisioned_model_name: str) -> str | None:
        """Counts this deletion against the first matching rule; the ConflictException message, if one fires."""
        if self._take_delete_conflict("provisioned-model", provisioned_model_name):
            return f"Provisioned model {provisioned_model_name} is being created or updated; retry later"
        return None

    def take_model_deployment_delete_conflict(self, model_deployment_name: str) -> str | None:
        """Counts this deletion against the first matching rule; the ConflictException message, if one fires."""
        if self._take_delete_conflict("custom-model-deployment", model_deployment_name):
            return f"Custom model deployment {model_deployment_name} is being updated; retry later"
        return None

    def _take_delete_conflict(self, kind: str, name: str) -> bool:
        with self._lock:
            for rule in self._delete_conflicts:
                if rule.kind == kind and rule.name in (None, name):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._delete_conflicts.remove(rule)
                    return True
        return False

    def take_provisioned_throughput_failure(self, provisioned_model_name: str) -> str | None:
        with self._lock:
            return _take(self._provisioned_throughput_failures, provisioned_model_name)

    def take_model_deployment_failure(self, model_deployment_name: str) -> str | None:
        with self._lock:
            return _take(self._model_deployment_failures, model_deployment_name)

    def take_evaluation_failure(self, job_name: str) -> str | None:
        with self._lock:
            return _take(self._evaluation_failures, job_name)

    def take_garbled_evaluation_output(self, job_name: str) -> bool:
        with self._lock:
            return _take(self._garbled_evaluation_outputs, job_name) is not None


def _take(pending: list[tuple[str | None, _Value]], name: str) -> _Value | None:
    for index, (wanted, value) in enumerate(pending):
        if wanted in (None, name):
            del pending[index]
            return value
    return None
