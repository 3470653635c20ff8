"""offline/aws_semantics.py makes moto's Step Functions interpreter behave like AWS where the workflow's
guarantees depend on it. These tests pin (a) each AWS behaviour, run through moto with the patches active, and
(b) that moto still has every internal a patch replaces or relies on, so a moto upgrade that moves them fails
here with the patch's name, not later as a workflow that quietly behaves like moto."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
from moto.stepfunctions.parser.asl.eval.environment import Environment

from offline import aws_semantics
from offline.aws_semantics import PATCHES, MotoInternalsChangedError, Patch

pytestmark = pytest.mark.unit

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/state-machine"
# Never invoked: the task fails while building its Parameters, before it calls the function.
UNINVOKED_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:never-invoked"
TASK_TIMEOUT_SECONDS = 30


@pytest.fixture
def stepfunctions() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        aws_semantics.activate()
        try:
            yield boto3.client("stepfunctions", region_name=REGION)
        finally:
            aws_semantics.deactivate()


def start(client: Any, definition: dict[str, Any]) -> str:
    machine = client.create_state_machine(
        name=f"semantics-{time.time_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    return str(client.start_execution(stateMachineArn=machine, input="{}")["executionArn"])


def ended(client: Any, execution_arn: str, within_seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + within_seconds
    while (execution := client.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {within_seconds}s"
        time.sleep(0.05)
    return dict(execution)


def missing_path_task(catch_errors: list[str]) -> dict[str, Any]:
    return {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": UNINVOKED_FUNCTION,
                "Parameters": {"value.$": "$.missing"},
                "Catch": [{"ErrorEquals": catch_errors, "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


# (a) The AWS behaviour ----------------------------------------------------------------------------------


def test_a_lambda_tasks_missing_parameters_path_fails_the_execution_past_a_states_all_catcher(
    stepfunctions: Any,
) -> None:
    # Given a Lambda task whose Parameters name a path its input lacks, with a States.ALL catcher
    execution = start(stepfunctions, missing_path_task(["States.ALL"]))

    # When it runs, Then the execution fails with States.Runtime naming the path, as on AWS
    result = ended(stepfunctions, execution)
    assert (result["status"], result.get("error")) == ("FAILED", "States.Runtime")
    assert "$.missing" in result["cause"]


def test_a_catcher_naming_states_runtime_explicitly_catches_it(stepfunctions: Any) -> None:
    # Given the same task with a catcher that names States.Runtime
    execution = start(stepfunctions, missing_path_task(["States.Runtime"]))

    # When it runs, Then the catcher takes the error and the execution goes on to succeed
    assert ended(stepfunctions, execution)["status"] == "SUCCEEDED"


def test_stop_execution_aborts_a_task_waiting_for_its_token_at_once_and_for_good(stepfunctions: Any) -> None:
    # Given an execution whose task waits for a token it will never get (until its timeout)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    execution = start(
        stepfunctions,
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": TASK_TIMEOUT_SECONDS,
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        },
    )
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10).get("Messages"), "the task never waited"

    # When it is stopped
    stopped_at = time.monotonic()
    stepfunctions.stop_execution(executionArn=execution, error="Operator", cause="stopped by the test")

    # Then it is ABORTED long before the task's timeout, and its woken task does not turn that into FAILED
    result = ended(stepfunctions, execution, within_seconds=TASK_TIMEOUT_SECONDS / 2)
    assert result["status"] == "ABORTED"
    assert time.monotonic() - stopped_at < TASK_TIMEOUT_SECONDS / 2
    history = stepfunctions.get_execution_history(executionArn=execution)["events"]
    kinds = [event["type"] for event in history]
    assert kinds[-1] == "ExecutionAborted"
    assert "ExecutionFailed" not in kinds
    assert stepfunctions.describe_execution(executionArn=execution)["status"] == "ABORTED"


# (b) The moto internals the patches replace ---------------------------------------------------------------


@pytest.mark.parametrize("patch", PATCHES, ids=lambda patch: patch.behaviour)
def test_moto_still_has_what_the_patch_replaces_and_relies_on(patch: Patch) -> None:
    assert patch.problem() is None, (
        f"offline/aws_semantics.py, patch '{patch.behaviour}': {patch.problem()}. moto changed its Step "
        "Functions interpreter: re-check the patch (and whether moto now behaves like AWS itself)."
    )


def _changed_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Environment, "set_error", lambda self, error, details: None)


def _removed_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(StateTaskLambda, "_from_error")


def _removed_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    def without_pool(self: CallbackPoolManager, activity_store: dict[str, Any]) -> None:
        pass

    monkeypatch.setattr(CallbackPoolManager, "__init__", without_pool)


@pytest.mark.parametrize(
    ("change", "patch_named"),
    [
        (_changed_signature, "stays ABORTED"),
        (_removed_method, "missing Parameters path"),
        (_removed_attribute, "wakes a task"),
    ],
    ids=["changed signature", "removed method", "removed attribute"],
)
def test_a_moto_that_changed_fails_activation_naming_the_patch_and_patches_nothing(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[pytest.MonkeyPatch], None], patch_named: str
) -> None:
    # Given a moto whose interpreter changed under one patch
    change(monkeypatch)
    before = {(patch.owner, patch.name): patch.owner.__dict__.get(patch.name) for patch in PATCHES}

    # When the offline world activates the patches, Then it refuses, naming that patch
    with pytest.raises(MotoInternalsChangedError, match=patch_named):
        aws_semantics.activate()

    # And leaves moto as it was
    assert {(patch.owner, patch.name): patch.owner.__dict__.get(patch.name) for patch in PATCHES} == before


def test_deactivate_restores_moto_as_it_was() -> None:
    before = {(patch.owner, patch.name): patch.owner.__dict__[patch.name] for patch in PATCHES}

    aws_semantics.activate()
    aws_semantics.activate()  # idempotent
    patched = {(patch.owner, patch.name): patch.owner.__dict__[patch.name] for patch in PATCHES}
    aws_semantics.deactivate()

    assert patched == {(patch.owner, patch.name): patch.replacement for patch in PATCHES}
    assert {(patch.owner, patch.name): patch.owner.__dict__[patch.name] for patch in PATCHES} == before
