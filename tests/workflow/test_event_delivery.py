"""Out-of-band effects are over when the offline pipeline says so: `LocalPipeline.wait` and `settle` return only
after the event pump has delivered everything an execution's end set off, so no assertion races the pump."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bedrock_distill.handlers import clean_up_execution
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import published_outcomes, run_to_end

pytestmark = pytest.mark.workflow

# Longer than an assertion right after `wait` takes: were `wait` not to settle, the delivery would not be there yet.
SLOW_SECONDS = 1.0


def slow_clean_up_execution(event: Any, context: Any) -> Any:
    """The execution-end function, taking its time before doing its work."""
    time.sleep(SLOW_SECONDS)
    return clean_up_execution.handler(event, context)


def test_wait_returns_after_the_execution_end_rule_has_handled_the_end(pipeline: LocalPipeline, outcomes: str) -> None:
    # Given an execution-end function that takes a second
    assert pipeline.pump is not None
    pipeline.lambdas.register(f"{pipeline.names.prefix}-CleanUpExecution", f"{__name__}.slow_clean_up_execution")
    # When a run that fails at once has been waited for
    result = run_to_end(pipeline, {"trainingData": {"prompts": "not-a-uri"}}, "slow-cleanup")
    assert result["status"] == "FAILED"
    # Then its end had already reached the execution-end rule's function, which had finished
    (delivery,) = [
        d
        for d in pipeline.pump.deliveries_to("execution-ends")
        if d.event["detail"]["executionArn"] == result["executionArn"]
    ]
    assert delivery.succeeded, delivery.result
    # And the one message of the run is all there will be: the workflow's, not repeated by the cleanup
    (outcome,) = published_outcomes(outcomes)
    assert outcome["error"] == "InvalidExecutionInput"
