"""What waiting costs in state transitions (Standard workflows bill per transition) and history events (at most
25,000 per execution), computed from the definition. No CDK imports.

A run waits three times: for the distillation job (a callback released by its event, with a fallback timeout),
for its serving (a Wait-state poll of the PT or of the on-demand deployment, which send no events) and for its
evaluation jobs (a Wait-state poll: Bedrock sends no evaluation events, EventBridge reference "Amazon Bedrock
events"). The worst case is every wait at its longest and every retry used once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

SEVEN_DAYS: Final = 7 * 24 * 3600
# Step Functions' quota on one execution's history (developer guide, "Step Functions service quotas").
HISTORY_LIMIT: Final = 25_000
# History events each state adds (developer guide, history event types): a Lambda task's StateEntered,
# LambdaFunctionScheduled/Started/Succeeded, StateExited; a Parallel's Entered, Started, Succeeded, Exited.
EVENTS_PER_STATE: Final = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2, "Succeed": 2, "Fail": 1, "Parallel": 4}
# A `.waitForTaskToken` task adds TaskSubmitted and ends in TaskSucceeded or TaskTimedOut.
EVENTS_PER_CALLBACK_TASK: Final = 6
# A failed attempt that is retried adds LambdaFunctionScheduled/Started/Failed.
EVENTS_PER_RETRY: Final = 3
# ExecutionStarted and the execution's end.
EVENTS_PER_EXECUTION: Final = 2
# The longest a PT has been seen to take to provision; the serving loop is budgeted for this much again.
SERVING_BUDGET_SECONDS: Final = 2 * 3600

# The loops a run goes round: wait (for the event, the fallback timeout or the poll interval), read, decide.
JOB_WAIT_CYCLE: Final = ("WaitForJobEvent", "GetJobStatus", "JobCompleted?")
PROVISIONED_THROUGHPUT_WAIT_CYCLE: Final = (
    "WaitForProvisionedThroughput",
    "GetProvisionedThroughputStatus",
    "ProvisionedThroughputReady?",
)
MODEL_DEPLOYMENT_WAIT_CYCLE: Final = ("WaitForModelDeployment", "GetModelDeploymentStatus", "ModelDeploymentReady?")
EVALUATION_WAIT_CYCLE: Final = ("WaitForEvaluation", "GetEvaluationStatus", "EvaluationCompleted?")


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, those inside Parallel branches included."""
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"])


def wait_cycle(definition: dict[str, Any], cycle: tuple[str, ...]) -> tuple[str, ...]:
    """`cycle`, checked against the definition: each state leads to the next, the last back to the first."""
    states = dict(all_states(definition["States"]))
    for current, following in zip(cycle, (*cycle[1:], cycle[0]), strict=True):
        state = states[current]
        successors = {state.get("Next")} | {choice["Next"] for choice in state.get("Choices", [])}
        if following not in successors:
            raise ValueError(f"{current} does not lead to {following}: the wait cycle {cycle} changed")
    return cycle


def job_wait_cycle(definition: dict[str, Any]) -> tuple[str, ...]:
    return wait_cycle(definition, JOB_WAIT_CYCLE)


def job_wait_transitions(definition: dict[str, Any], job_seconds: int, wait_seconds: int) -> int:
    """State transitions spent waiting for a job of `job_seconds` when each wait lasts at most `wait_seconds`
    (the fallback timeout, or the poll interval of a Wait-state loop); an event ends the last wait early."""
    return math.ceil(job_seconds / wait_seconds) * len(job_wait_cycle(definition))


@dataclass(frozen=True)
class Waits:
    """How long each wait may last and how often it reads the status. The job's wait is bounded by Bedrock
    (7 days), the evaluation's by the run's deadline (EvaluationTimedOut past maxEvaluationHours)."""

    job_poll_seconds: int
    serving_poll_seconds: int
    evaluation_poll_seconds: int
    evaluation_seconds: int
    job_seconds: int = SEVEN_DAYS
    serving_seconds: int = SERVING_BUDGET_SECONDS


def _state_events(state: dict[str, Any]) -> int:
    if str(state.get("Resource", "")).endswith(".waitForTaskToken"):
        return EVENTS_PER_CALLBACK_TASK
    return EVENTS_PER_STATE[str(state["Type"])]


def _cycle_events(definition: dict[str, Any], cycle: tuple[str, ...]) -> int:
    states = dict(all_states(definition["States"]))
    return sum(_state_events(states[name]) for name in wait_cycle(definition, cycle))


def worst_case_history(definition: dict[str, Any], waits: Waits) -> int:
    """An upper bound on one execution's history events: every state of the definition once (both serving routes
    and both ends, though a run takes one of each), each wait loop round as often as its longest wait allows
    (the longer serving loop), and every retrier of every task used to its last attempt once."""
    loop_states = {
        *JOB_WAIT_CYCLE,
        *PROVISIONED_THROUGHPUT_WAIT_CYCLE,
        *MODEL_DEPLOYMENT_WAIT_CYCLE,
        *EVALUATION_WAIT_CYCLE,
    }
    once = sum(_state_events(state) for name, state in all_states(definition["States"]) if name not in loop_states)
    job = (waits.job_seconds // waits.job_poll_seconds + 1) * _cycle_events(definition, JOB_WAIT_CYCLE)
    serving_rounds = waits.serving_seconds // waits.serving_poll_seconds + 1
    serving = serving_rounds * max(
        _cycle_events(definition, PROVISIONED_THROUGHPUT_WAIT_CYCLE),
        _cycle_events(definition, MODEL_DEPLOYMENT_WAIT_CYCLE),
    )
    evaluation_rounds = waits.evaluation_seconds // waits.evaluation_poll_seconds + 1
    evaluation = evaluation_rounds * _cycle_events(definition, EVALUATION_WAIT_CYCLE)
    retries = sum(
        int(retrier["MaxAttempts"]) * EVENTS_PER_RETRY
        for _, state in all_states(definition["States"])
        if state["Type"] == "Task"
        for retrier in state["Retry"]
    )
    return EVENTS_PER_EXECUTION + once + job + serving + evaluation + retries


def shortest_evaluation_poll_seconds(definition: dict[str, Any], waits: Waits) -> int:
    """The shortest evaluation poll whose worst case (with `waits`' other values) stays under the history limit."""
    for seconds in range(1, waits.evaluation_seconds + 1):
        if worst_case_history(definition, replace(waits, evaluation_poll_seconds=seconds)) < HISTORY_LIMIT:
            return seconds
    raise ValueError("no evaluation poll fits the history limit beside the other waits")
