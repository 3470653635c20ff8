"""Properties of `statemachines/distillation.asl.json` that executions cannot show (or moto shows wrongly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.workflow import errors
from bedrock_distill.workflow.settings import MIN_JOB_POLL_INTERVAL_SECONDS
from stacks.pipeline_spec import (
    DEFINITION_FILE,
    EXECUTION_TIMEOUT_SECONDS,
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    WORKFLOW_FUNCTIONS,
    placeholders,
    render_definition,
    substitutions,
)
from stacks.workflow_budget import SEVEN_DAYS, job_wait_cycle, job_wait_transitions

pytestmark = pytest.mark.unit

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
HISTORY_LIMIT = 25_000
# History events each state adds (Step Functions developer guide, history event types).
EVENTS_PER_STATE = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2, "Succeed": 2, "Fail": 1}
# A `.waitForTaskToken` task adds TaskSubmitted and ends in TaskSucceeded or TaskTimedOut.
EVENTS_PER_CALLBACK_TASK = 6
# A failed attempt that is retried adds LambdaFunctionScheduled/Started/Failed.
EVENTS_PER_RETRY = 3
# The longest a PT has been seen to take to provision; the PT loop is budgeted for this much again.
PROVISIONING_BUDGET_SECONDS = 2 * 3600
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TRANSIENT = {cls.__name__ for cls in errors.TransientError.__subclasses__()} - {"ConflictException"}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    arns = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in WORKFLOW_FUNCTIONS}
    return render_definition(substitutions(arns))


def _all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _all_states(branch["States"])


def _successors(state: dict[str, Any]) -> set[str]:
    following = {state[key] for key in ("Next", "Default") if key in state}
    following |= {choice["Next"] for choice in state.get("Choices", [])}
    following |= {catcher["Next"] for catcher in state.get("Catch", [])}
    return following


def test_every_substitution_has_a_value_and_every_value_is_used() -> None:
    # Given the definition file and the substitutions the stack and the offline pipeline pass
    text = DEFINITION_FILE.read_text()
    arns = dict.fromkeys(WORKFLOW_FUNCTIONS, "arn")
    # Then the names match exactly, and the rendered definition is JSON
    assert placeholders(text) == set(substitutions(arns))
    assert json.loads(json.dumps(render_definition(substitutions(arns))))


def test_a_missing_substitution_is_refused() -> None:
    with pytest.raises(KeyError, match="PreflightFunctionArn"):
        render_definition({}, '{"Resource": "${PreflightFunctionArn}"}')


def test_every_task_retries_transient_errors_with_exponential_backoff_and_full_jitter(
    definition: dict[str, Any],
) -> None:
    tasks = [(name, state) for name, state in _all_states(definition["States"]) if state["Type"] == "Task"]
    assert {name for name, _ in tasks} >= {"Preflight", "CreateJob", "ValidateModel", "DeleteProvisionedThroughput"}
    for name, task in tasks:
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        assert retried >= TRANSIENT | LAMBDA_SERVICE_ERRORS, name
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1, name
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["MaxAttempts"] >= 3, name
        # Fatal errors are never retried: a failed job must not be recreated, nor a quota error repeated.
        assert not retried & {"States.ALL", "DistillationJobFailed", "ProvisionedThroughputQuotaExceeded"}, name


def test_every_top_level_task_catches_everything(definition: dict[str, Any]) -> None:
    for name, state in definition["States"].items():
        if state["Type"] in {"Task", "Parallel"}:
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_deletion_retries_conflicts_patiently(definition: dict[str, Any]) -> None:
    for name in ("DeleteProvisionedThroughput", "DeleteProvisionedThroughputAfterFailure"):
        (retrier,) = [r for r in definition["States"][name]["Retry"] if "ConflictException" in r["ErrorEquals"]]
        assert retrier["MaxAttempts"] >= 10


def test_everything_after_the_pt_request_is_inside_the_block_that_deletes_it(definition: dict[str, Any]) -> None:
    # Given the block and its branch
    block = definition["States"]["ServeAndValidate"]
    (branch,) = block["Branches"]
    # Then the PT is requested first inside it, and nothing inside leaves it except by ending the branch
    assert branch["StartAt"] == "CreateProvisionedThroughput"
    assert all(
        _successors(state) <= set(branch["States"]) and "Catch" not in state for state in branch["States"].values()
    )
    # And the block's catch-all goes to a deletion by the run's PT name, then fails with the original error
    (catcher,) = block["Catch"]
    assert catcher["ErrorEquals"] == ["States.ALL"]
    cleanup = definition["States"][catcher["Next"]]
    assert cleanup["Parameters"] == {"provisionedModelId.$": "$.run.provisionedModelName"}
    assert catcher["ResultPath"] == "$.failure"
    assert cleanup["Catch"][0]["ResultPath"] != "$.failure", "a failed cleanup must not hide the original error"
    assert definition["States"]["Failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.failure.Error",
        "CausePath": "$.failure.Cause",
    }
    # And on success the block is followed by a deletion too
    assert block["Next"] == "DeleteProvisionedThroughput"


def test_no_path_from_the_pt_request_ends_without_a_deletion(definition: dict[str, Any]) -> None:
    states = definition["States"]
    deletions = {"DeleteProvisionedThroughput", "DeleteProvisionedThroughputAfterFailure"}

    def paths_avoiding_deletion(name: str, seen: frozenset[str]) -> Iterator[list[str]]:
        state = states[name]
        if name in deletions or name in seen:
            return
        following = _successors(state)
        if not following:
            yield [name]
        for successor in following:
            for path in paths_avoiding_deletion(successor, seen | {name}):
                yield [name, *path]

    assert list(paths_avoiding_deletion("ServeAndValidate", frozenset())) == []


def test_job_statuses_other_than_in_progress_cannot_loop(definition: dict[str, Any]) -> None:
    choice = definition["States"]["JobCompleted?"]
    loops = [c for c in choice["Choices"] if c["Next"] == "WaitForJobEvent"]
    assert loops == [{"Variable": "$.job.status", "StringEquals": "InProgress", "Next": "WaitForJobEvent"}]
    # Failed, Stopped and Stopping never reach the Choice: the status task raises their named errors.
    assert {"DistillationJobFailed", "DistillationJobStopped"} <= {
        cls.__name__ for cls in errors.FatalError.__subclasses__()
    }


def test_the_job_wait_is_a_callback_whose_timeout_falls_back_to_one_status_read(definition: dict[str, Any]) -> None:
    wait = definition["States"]["WaitForJobEvent"]
    # Given the callback task: the token goes to the function that files it under the job's name, which the run
    # chose (the event's jobArn may be spelled unlike the API's); the ARN is only for its status read
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["FunctionName"].endswith(":function:RegisterJobWaiter")
    assert wait["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert wait["Parameters"]["Payload"]["jobName.$"] == "$.run.jobName"
    assert wait["Parameters"]["Payload"]["jobArn.$"] == "$.job.jobArn"
    # Then a lost event costs one status read per fallback interval, never the execution
    assert wait["TimeoutSecondsPath"] == "$.run.jobPollSeconds"
    (timeout_catch, *others) = wait["Catch"]
    assert timeout_catch == {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "GetJobStatus"}
    assert others[-1]["ErrorEquals"] == ["States.ALL"]
    assert others[-1]["Next"] == "NotifyFailure"
    # And whatever the callback says, the status is read from Bedrock before deciding
    assert wait["ResultPath"] is None
    assert wait["Next"] == "GetJobStatus"


def test_poll_intervals_come_from_the_run(definition: dict[str, Any]) -> None:
    (branch,) = definition["States"]["ServeAndValidate"]["Branches"]
    assert branch["States"]["WaitForProvisionedThroughput"]["SecondsPath"] == "$.run.provisionedThroughputPollSeconds"


def _worst_case_history(definition: dict[str, Any], job_poll_seconds: int) -> int:
    states = definition["States"]
    (branch,) = states["ServeAndValidate"]["Branches"]
    inner = branch["States"]

    def events(names: list[str], scope: dict[str, Any]) -> int:
        return sum(
            EVENTS_PER_CALLBACK_TASK
            if scope[name].get("Resource", "").endswith(".waitForTaskToken")
            else EVENTS_PER_STATE[scope[name]["Type"]]
            for name in names
        )

    job_loop = events(list(job_wait_cycle(definition)), states)
    pt_loop = events(
        ["WaitForProvisionedThroughput", "GetProvisionedThroughputStatus", "ProvisionedThroughputReady?"], inner
    )
    once = events(
        ["Preflight", "CreateJob", "CollectMetrics", "DeleteProvisionedThroughput", "NotifySuccess", "Succeeded"],
        states,
    )
    once += 4 + events(["CreateProvisionedThroughput", "ValidateModel"], inner)  # ParallelState* events
    execution = 2  # ExecutionStarted, ExecutionSucceeded
    # Every task may use all its retries once; each retried attempt adds its own events.
    retries: int = sum(
        retrier["MaxAttempts"] * EVENTS_PER_RETRY
        for _, state in _all_states(states)
        if state["Type"] == "Task"
        for retrier in state["Retry"]
    )
    job_polls = SEVEN_DAYS // job_poll_seconds + 1
    pt_polls = PROVISIONING_BUDGET_SECONDS // PROVISIONED_THROUGHPUT_POLL_SECONDS + 1
    return execution + once + job_polls * job_loop + pt_polls * pt_loop + retries


def test_a_seven_day_job_at_the_default_interval_fits_the_history_limit(definition: dict[str, Any]) -> None:
    # Given the default fallback interval the app ships with, and every job event lost
    default_interval = json.loads(CDK_JSON.read_text())["context"]["jobPollIntervalSeconds"]
    # When we count the worst-case history of a 7-day job, every retry used once
    events = _worst_case_history(definition, default_interval)
    # Then it stays under Step Functions' 25,000-event limit, even at the smallest interval the config allows
    assert events < HISTORY_LIMIT, events
    assert _worst_case_history(definition, MIN_JOB_POLL_INTERVAL_SECONDS) < HISTORY_LIMIT
    # And the bound is real: polling every minute would not fit
    assert _worst_case_history(definition, 60) > HISTORY_LIMIT


def test_waiting_seven_days_costs_a_handful_of_transitions_instead_of_thousands(definition: dict[str, Any]) -> None:
    # Given the default fallback interval, and the 300-second poll the workflow used before job events
    default_interval = json.loads(CDK_JSON.read_text())["context"]["jobPollIntervalSeconds"]
    # When a 7-day job is waited for
    with_events = job_wait_transitions(definition, SEVEN_DAYS, default_interval)
    polling = job_wait_transitions(definition, SEVEN_DAYS, 300)
    # Then the callback costs one status read per fallback interval: 14 rounds of 3 states at 12 hours
    assert (default_interval, with_events) == (12 * 3600, 42)
    assert polling == 2016 * 3
    # And the cycle the count assumes is the definition's own
    assert job_wait_cycle(definition) == ("WaitForJobEvent", "GetJobStatus", "JobCompleted?")


def test_execution_timeout_covers_a_seven_day_job_and_is_the_out_of_band_cleanups_job(
    definition: dict[str, Any],
) -> None:
    # A timeout (like StopExecution and States.Runtime) is not caught by States.ALL on AWS, although moto's
    # interpreter catches States.Runtime; those ends are cleaned up outside the workflow (the execution-status
    # rule and the PT sweeper), so the timeout must at least outlast the longest legitimate run.
    assert definition["TimeoutSeconds"] == EXECUTION_TIMEOUT_SECONDS
    assert EXECUTION_TIMEOUT_SECONDS > SEVEN_DAYS + PROVISIONING_BUDGET_SECONDS
