"""What waiting for a job costs in state transitions (Standard workflows bill per transition) and history
events (at most 25,000 per execution), computed from the definition. No CDK imports."""

from __future__ import annotations

import math
from typing import Any, Final

SEVEN_DAYS: Final = 7 * 24 * 3600
# The loop a running job goes round: wait (for the event, or the fallback timeout), read the status, decide.
JOB_WAIT_CYCLE: Final = ("WaitForJobEvent", "GetJobStatus", "JobCompleted?")


def job_wait_cycle(definition: dict[str, Any]) -> tuple[str, ...]:
    """The cycle's states, checked against the definition: each leads to the next, the last back to the first."""
    states = definition["States"]
    for current, following in zip(JOB_WAIT_CYCLE, (*JOB_WAIT_CYCLE[1:], JOB_WAIT_CYCLE[0]), strict=True):
        state = states[current]
        successors = {state.get("Next")} | {choice["Next"] for choice in state.get("Choices", [])}
        if following not in successors:
            raise ValueError(f"{current} does not lead to {following}: the job-wait cycle changed")
    return JOB_WAIT_CYCLE


def job_wait_transitions(definition: dict[str, Any], job_seconds: int, wait_seconds: int) -> int:
    """State transitions spent waiting for a job of `job_seconds` when each wait lasts at most `wait_seconds`
    (the fallback timeout, or the poll interval of a Wait-state loop); an event ends the last wait early."""
    return math.ceil(job_seconds / wait_seconds) * len(job_wait_cycle(definition))
