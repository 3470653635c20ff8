"""Properties of `statemachines/distillation.asl.json` that executions cannot show (or moto shows wrongly)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.workflow import errors
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, Run, plan_run
from bedrock_distill.workflow.settings import (
    DEFAULT_EVALUATION_POLL_SECONDS,
    DEFAULT_MAX_EVALUATION_SECONDS,
    DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS,
    MIN_EVALUATION_POLL_INTERVAL_SECONDS,
    MIN_JOB_POLL_INTERVAL_SECONDS,
)
from stacks.pipeline_spec import (
    DEFINITION_FILE,
    EXECUTION_TIMEOUT_SECONDS,
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    WORKFLOW_FUNCTIONS,
    placeholders,
    render_definition,
    substitutions,
)
from stacks.workflow_budget import (
    EVALUATION_WAIT_CYCLE,
    HISTORY_LIMIT,
    MODEL_DEPLOYMENT_WAIT_CYCLE,
    SERVING_BUDGET_SECONDS,
    SEVEN_DAYS,
    Waits,
    all_states,
    job_wait_cycle,
    job_wait_transitions,
    shortest_evaluation_poll_seconds,
    wait_cycle,
    worst_case_history,
)
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TRANSIENT = {cls.__name__ for cls in errors.TransientError.__subclasses__()} - {"ConflictException"}
FATAL = {cls.__name__ for cls in errors.FatalError.__subclasses__()}
PT_DELETIONS = {"DeleteProvisionedThroughput", "DeleteProvisionedThroughputAfterFailure"}
DEPLOYMENT_DELETIONS = {"DeleteModelDeployment", "DeleteModelDeploymentAfterFailure"}
# The states before any serving or teacher answer exists: a failure there has nothing to delete.
BEFORE_SERVING = ("Preflight", "CreateJob", "WaitForJobEvent", "GetJobStatus", "CollectMetrics")


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    arns = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in WORKFLOW_FUNCTIONS}
    return render_definition(substitutions(arns))


def _successors(state: Mapping[str, Any]) -> set[str]:
    following = {state[key] for key in ("Next", "Default") if key in state}
    following |= {choice["Next"] for choice in state.get("Choices", [])}
    following |= {catcher["Next"] for catcher in state.get("Catch", [])}
    return following


# --- Every route of the definition, for one run --------------------------------------------------------------------
#
# Step Functions raises States.Runtime when a Parameters, ResultSelector, Choice or *Path reference is missing, and on
# AWS a Catch of States.ALL does not catch it: the execution fails with the PT or deployment alive. So every path a
# state reads must be written on every route that reaches it. The walk below follows each route from Preflight to an
# end, for a run with given servingMode/keepDeployment (the only Choices whose outcome the run decides), each Task
# either succeeding or failing into its Catch, each status loop gone round once.


@dataclass(frozen=True)
class Route:
    states: tuple[str, ...]
    outcome: str  # "succeeded", "failed", or inside a Parallel branch "end" / "error"
    written: frozenset[str]
    unresolved: tuple[str, ...]  # "<state>: <path>" for each read of a path no earlier state wrote


def _always_set_run_fields() -> set[str]:
    """The run's fields Preflight always writes (by their camelCase name): required, or defaulting to a value."""
    return {
        field.alias or name
        for name, field in Run.model_fields.items()
        if field.is_required() or field.default is not None
    }


RUN_FIELDS = _always_set_run_fields()


def _reads(state: Mapping[str, Any]) -> Iterator[str]:
    """The state-input paths a state reads (context `$$.` paths and the whole input `$` excluded)."""

    def parameter_paths(value: Any) -> Iterator[str]:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if key.endswith(".$") and isinstance(inner, str) and inner.startswith("$."):
                    yield inner
                else:
                    yield from parameter_paths(inner)

    yield from parameter_paths(state.get("Parameters", {}))
    yield from (rule["Variable"] for rule in state.get("Choices", []) if "Variable" in rule)
    for key in ("SecondsPath", "TimeoutSecondsPath", "ErrorPath", "CausePath"):
        if key in state:
            yield state[key]


def _resolves(path: str, written: frozenset[str]) -> bool:
    if path.startswith("$.run."):
        return "$.run" in written and path.split(".")[2] in RUN_FIELDS
    return any(path == done or path.startswith(f"{done}.") for done in written)


def _decided(rule: Mapping[str, Any], run: Mapping[str, Any]) -> bool | None:
    """The rule's outcome when it tests a field of the run this walk fixes; None when it could go either way."""
    variable = str(rule.get("Variable", ""))
    field = variable.removeprefix("$.run.")
    if variable == field or field not in run:
        return None
    for comparison in ("StringEquals", "BooleanEquals"):
        if comparison in rule:
            return bool(run[field] == rule[comparison])
    return None


def _walk(
    states: Mapping[str, Any], name: str, run: Mapping[str, Any], route: Route, top_level: bool
) -> Iterator[Route]:
    if name in route.states:
        return  # a status loop: its second round reads what its first did, with more written
    state = states[name]
    unresolved = tuple(f"{name}: {path}" for path in _reads(state) if not _resolves(path, route.written))
    here = Route((*route.states, name), route.outcome, route.written, route.unresolved + unresolved)
    kind = state["Type"]
    if kind in ("Succeed", "Fail"):
        outcome = "succeeded" if kind == "Succeed" else "failed" if top_level else "error"
        yield Route(here.states, outcome, here.written, here.unresolved)
    elif kind == "Choice":
        for following in _choices(state, run):
            yield from _walk(states, following, run, here, top_level)
    else:
        if kind in ("Task", "Parallel"):
            yield from _failures(states, state, run, here, top_level)
        successes = _branch_ends(name, state, run, here) if kind == "Parallel" else [here]
        for success in successes:
            written = _after_result(state, success.written)
            after = Route(success.states, success.outcome, frozenset(written), success.unresolved)
            if state.get("End"):
                yield Route(after.states, "end", after.written, after.unresolved)
            else:
                yield from _walk(states, state["Next"], run, after, top_level)


def _after_result(state: Mapping[str, Any], written: frozenset[str]) -> frozenset[str]:
    """What is written once the state's result is placed: at its ResultPath; a Task's or Parallel's result without
    one replaces the whole input (so nothing earlier counts as written); Wait and a bare Pass pass it through."""
    if "ResultPath" in state:
        return written | {state["ResultPath"]} if state["ResultPath"] else written
    return frozenset() if state["Type"] in ("Task", "Parallel") else written


def _choices(state: Mapping[str, Any], run: Mapping[str, Any]) -> Iterator[str]:
    """The states a Choice may go to for this run: rules on the run's fixed fields decided, others either way."""
    for choice in state["Choices"]:
        decided = _decided(choice, run)
        if decided is not False:
            yield choice["Next"]
        if decided is True:
            return
    yield state["Default"]


def _failures(
    states: Mapping[str, Any], state: Mapping[str, Any], run: Mapping[str, Any], here: Route, top_level: bool
) -> Iterator[Route]:
    """The routes of the state failing: into each Catch with its ResultPath written, or out of the branch."""
    for catcher in state.get("Catch", []):
        caught = Route(here.states, here.outcome, here.written | {catcher["ResultPath"]}, here.unresolved)
        yield from _walk(states, catcher["Next"], run, caught, top_level)
    if "Catch" not in state:
        yield Route(here.states, "error", here.written, here.unresolved)


def _branch_ends(name: str, state: Mapping[str, Any], run: Mapping[str, Any], here: Route) -> list[Route]:
    """A Parallel's successful branch routes, each checked for what the ResultSelector reads; what the branch wrote
    is not the Parallel's output (its ResultPath is)."""
    ends = []
    for branch in state["Branches"]:
        for inner in _walk(branch["States"], branch["StartAt"], run, here, top_level=False):
            if inner.outcome != "end":
                continue  # an error inside the branch: the Parallel's Catch, walked by _failures
            selected = tuple(
                f"{name}: ResultSelector {path}"
                for path in state.get("ResultSelector", {}).values()
                if not _resolves(path.replace("$[0].", "$.", 1), inner.written)
            )
            ends.append(Route(inner.states, "", here.written, inner.unresolved + selected))
    return ends


RUNS = {
    "provisioned": {"servingMode": "provisioned", "keepDeployment": False},
    "on-demand": {"servingMode": "on-demand", "keepDeployment": False},
    "on-demand, kept": {"servingMode": "on-demand", "keepDeployment": True},
}


def _routes(definition: dict[str, Any], run: Mapping[str, Any]) -> list[Route]:
    start = Route((), "", frozenset(), ())
    return list(_walk(definition["States"], definition["StartAt"], run, start, top_level=True))


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_every_path_a_state_reads_is_written_on_every_route_that_reaches_it(
    definition: dict[str, Any], run: dict[str, Any]
) -> None:
    # Given every route of a run from Preflight to its end (each task succeeding or failing into its Catch)
    routes = _routes(definition, run)
    assert {route.outcome for route in routes} == {"succeeded", "failed"}
    # Then no state reads a path that an earlier state on the route did not write, and every $.run field read is one
    # Preflight always sets (so Step Functions never raises States.Runtime, which no Catch catches on AWS)
    assert [route.unresolved for route in routes if route.unresolved] == []


def test_the_route_walk_finds_a_path_nothing_wrote() -> None:
    # Given a state reading the deployment's ARN on a route where only the PT's was written
    states = {
        "Serve": {"Type": "Pass", "Parameters": {"a": 1}, "ResultPath": "$.serving.provisionedThroughput", "Next": "V"},
        "V": {"Type": "Pass", "Parameters": {"m.$": "$.serving.modelDeployment.customModelDeploymentArn"}, "End": True},
    }
    (route,) = _walk(states, "Serve", {}, Route((), "", frozenset({"$.run"}), ()), top_level=False)
    assert route.unresolved == ("V: $.serving.modelDeployment.customModelDeploymentArn",)


def test_a_provisioned_run_never_deploys_and_deletes_its_pt_before_the_judge_on_every_route(
    definition: dict[str, Any],
) -> None:
    for route in _routes(definition, RUNS["provisioned"]):
        assert "CreateModelDeployment" not in route.states, route.states
        if "CreateProvisionedThroughput" in route.states:
            bought = route.states.index("CreateProvisionedThroughput")
            assert PT_DELETIONS & set(route.states[bought:]), route.states
        if route.outcome == "succeeded":
            assert route.states.index("DeleteProvisionedThroughput") < route.states.index("CreateEvaluationJobs")


def test_an_on_demand_run_buys_no_pt_and_deletes_its_deployment_on_every_route(definition: dict[str, Any]) -> None:
    for route in _routes(definition, RUNS["on-demand"]):
        assert "CreateProvisionedThroughput" not in route.states, route.states
        if "CreateModelDeployment" in route.states:
            created = route.states.index("CreateModelDeployment")
            assert DEPLOYMENT_DELETIONS & set(route.states[created:]), route.states
        if route.outcome == "succeeded":
            assert route.states.index("DeleteModelDeployment") < route.states.index("CreateEvaluationJobs")


def test_a_kept_deployment_survives_only_a_successful_run(definition: dict[str, Any]) -> None:
    routes = _routes(definition, RUNS["on-demand, kept"])
    for route in routes:
        if route.outcome == "succeeded":
            assert not (DEPLOYMENT_DELETIONS | PT_DELETIONS) & set(route.states), route.states
        elif "CreateModelDeployment" in route.states:
            assert "DeleteModelDeploymentAfterFailure" in route.states, route.states
    assert any(route.outcome == "succeeded" and "Score" in route.states for route in routes)


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_every_failure_from_the_teachers_answers_on_deletes_both_kinds_of_serving(
    definition: dict[str, Any], run: dict[str, Any]
) -> None:
    # Whatever failed (a deployment that went Failed, a judge that could not be read), the cleanup deletes by the
    # run's names both what a provisioned and what an on-demand run would have made, then reports the first error.
    for route in _routes(definition, run):
        if route.outcome == "failed" and "AnswerAsTeacher" in route.states:
            tail = route.states[route.states.index("AnswerAsTeacher") :]
            assert {"DeleteProvisionedThroughputAfterFailure", "DeleteModelDeploymentAfterFailure"} <= set(tail), tail


# --- Retries and catches ------------------------------------------------------------------------------------------


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
    tasks = [(name, state) for name, state in all_states(definition["States"]) if state["Type"] == "Task"]
    assert {name for name, _ in tasks} >= {
        "Preflight",
        "CreateJob",
        "AnswerAsTeacher",
        "CreateModelDeployment",
        "GetModelDeploymentStatus",
        "ValidateModel",
        "DeleteModelDeployment",
        "CreateEvaluationJobs",
        "GetEvaluationStatus",
        "Score",
        "DeleteProvisionedThroughput",
        "DeleteModelDeploymentAfterFailure",
    }
    for name, task in tasks:
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        assert retried >= TRANSIENT | LAMBDA_SERVICE_ERRORS, name
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1, name
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["MaxAttempts"] >= 3, name
        # Fatal errors are never retried: a failed job or deployment must not be recreated, nor a quota error repeated.
        assert not retried & ({"States.ALL"} | FATAL), name


def test_every_top_level_task_catches_everything(definition: dict[str, Any]) -> None:
    for name, state in definition["States"].items():
        if state["Type"] in {"Task", "Parallel"}:
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_failures_before_serving_go_straight_to_the_notification_and_later_ones_through_the_cleanup(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    for name in BEFORE_SERVING:
        assert [c["Next"] for c in states[name]["Catch"]][-1] == "NotifyFailure", name
    cleanup_entry = "DeleteProvisionedThroughputAfterFailure"
    later = [
        "AnswerAsTeacher",
        "Serve",
        "DeleteProvisionedThroughput",
        "DeleteModelDeployment",
        "CreateEvaluationJobs",
        "GetEvaluationStatus",
        "Score",
    ]
    for name in later:
        (catcher,) = states[name]["Catch"]
        assert catcher == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": cleanup_entry}, name
    assert states["UnexpectedEvaluationStatus"]["Next"] == cleanup_entry
    assert states["UnexpectedEvaluationStatus"]["ResultPath"] == "$.failure"


def test_deletion_retries_conflicts_patiently(definition: dict[str, Any]) -> None:
    for name in PT_DELETIONS | DEPLOYMENT_DELETIONS:
        (retrier,) = [r for r in definition["States"][name]["Retry"] if "ConflictException" in r["ErrorEquals"]]
        assert retrier["MaxAttempts"] >= 10, name


def test_everything_after_the_serving_request_is_inside_the_block_that_deletes_it(definition: dict[str, Any]) -> None:
    # Given the block and its branch
    block = definition["States"]["Serve"]
    (branch,) = block["Branches"]
    inner = branch["States"]
    # Then the serving mode is decided first inside it, each mode's request is its first task, and nothing inside
    # leaves the branch except by ending it
    assert branch["StartAt"] == "ServingMode?"
    assert inner["ServingMode?"]["Choices"] == [
        {"Variable": "$.run.servingMode", "StringEquals": "on-demand", "Next": "CreateModelDeployment"}
    ]
    assert inner["ServingMode?"]["Default"] == "CreateProvisionedThroughput"
    assert all(_successors(state) <= set(inner) and "Catch" not in state for state in inner.values())
    # And the student's ARN, whichever serves it, is what ValidateModel calls
    assert inner["StudentOnModelDeployment"]["Parameters"] == {
        "modelArn.$": "$.serving.modelDeployment.customModelDeploymentArn"
    }
    assert inner["StudentOnProvisionedThroughput"]["Parameters"] == {
        "modelArn.$": "$.serving.provisionedThroughput.provisionedModelArn"
    }
    assert inner["ValidateModel"]["Parameters"] == {"run.$": "$.run", "modelArn.$": "$.serving.student.modelArn"}
    assert block["ResultSelector"] == {"student.$": "$[0].serving.student", "validation.$": "$[0].serving.validation"}
    # And the block's catch-all deletes by the run's names, PT then deployment, then fails with the original error
    (catcher,) = block["Catch"]
    cleanup_entry = "DeleteProvisionedThroughputAfterFailure"
    assert catcher == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": cleanup_entry}
    states = definition["States"]
    pt_cleanup = states["DeleteProvisionedThroughputAfterFailure"]
    deployment_cleanup = states["DeleteModelDeploymentAfterFailure"]
    assert pt_cleanup["Parameters"] == {"provisionedModelId.$": "$.run.provisionedModelName"}
    assert {pt_cleanup["Next"]} | {c["Next"] for c in pt_cleanup["Catch"]} == {"DeleteModelDeploymentAfterFailure"}
    assert deployment_cleanup["Parameters"] == {"customModelDeploymentIdentifier.$": "$.run.modelDeploymentName"}
    assert {deployment_cleanup["Next"]} | {c["Next"] for c in deployment_cleanup["Catch"]} == {"NotifyFailure"}
    cleanup_results = [pt_cleanup["ResultPath"], deployment_cleanup["ResultPath"]]
    cleanup_failures = [c["ResultPath"] for c in (*pt_cleanup["Catch"], *deployment_cleanup["Catch"])]
    assert "$.failure" not in cleanup_results + cleanup_failures, "a failed cleanup must not hide the original error"
    assert len(set(cleanup_results + cleanup_failures)) == 4, "one cleanup's record must not overwrite the other's"
    assert states["Failed"] == {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"}


def test_the_serving_is_released_by_name_before_the_judge_unless_an_on_demand_run_keeps_it(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    assert states["Serve"]["Next"] == "ReleaseServing?"
    release = states["ReleaseServing?"]
    assert release["Choices"] == [
        {"Variable": "$.run.servingMode", "StringEquals": "provisioned", "Next": "DeleteProvisionedThroughput"},
        {"Variable": "$.run.keepDeployment", "BooleanEquals": True, "Next": "CreateEvaluationJobs"},
    ]
    # Anything the two rules do not name is deleted, not kept
    assert release["Default"] == "DeleteModelDeployment"
    assert states["DeleteProvisionedThroughput"]["Parameters"] == {"provisionedModelId.$": "$.run.provisionedModelName"}
    assert states["DeleteModelDeployment"]["Parameters"] == {
        "customModelDeploymentIdentifier.$": "$.run.modelDeploymentName"
    }
    assert (
        states["DeleteProvisionedThroughput"]["Next"]
        == states["DeleteModelDeployment"]["Next"]
        == "CreateEvaluationJobs"
    )
    # And each kind's deletion has its own place in the state: $.deletion is the PT's, which the outcome prices by
    # the hour and `distill list` reports as the PT's
    assert states["DeleteProvisionedThroughput"]["ResultPath"] == "$.deletion"
    assert states["DeleteModelDeployment"]["ResultPath"] == "$.modelDeploymentDeletion"
    assert states["DeleteModelDeploymentAfterFailure"]["ResultPath"] == "$.modelDeploymentDeletion"


def test_the_judge_and_the_score_get_what_the_contract_names(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["AnswerAsTeacher"]["Parameters"] == {"run.$": "$.run"}
    assert states["AnswerAsTeacher"]["ResultPath"] == "$.teacher"
    assert states["CreateEvaluationJobs"]["Parameters"] == {"run.$": "$.run"}
    assert states["CreateEvaluationJobs"]["ResultPath"] == "$.evaluation"
    assert states["GetEvaluationStatus"]["Parameters"] == {"run.$": "$.run", "evaluation.$": "$.evaluation"}
    assert states["GetEvaluationStatus"]["ResultPath"] == "$.evaluation"
    assert states["Score"]["Parameters"] == {
        "run.$": "$.run",
        "evaluation.$": "$.evaluation",
        "teacher.$": "$.teacher",
        "validation.$": "$.serving.validation",
    }
    assert (states["Score"]["ResultPath"], states["Score"]["Next"]) == ("$.scorecard", "NotifySuccess")


# --- Waits ----------------------------------------------------------------------------------------------------------


def test_statuses_other_than_the_waiting_ones_cannot_loop(definition: dict[str, Any]) -> None:
    states = definition["States"]
    inner = states["Serve"]["Branches"][0]["States"]
    loops = {
        "JobCompleted?": (states, "WaitForJobEvent", "$.job.status", "InProgress"),
        "EvaluationCompleted?": (states, "WaitForEvaluation", "$.evaluation.status", "InProgress"),
        "ModelDeploymentReady?": (inner, "WaitForModelDeployment", "$.serving.modelDeployment.status", "Creating"),
    }
    for choice, (scope, wait, variable, waiting) in loops.items():
        back = [c for c in scope[choice]["Choices"] if c["Next"] == wait]
        assert back == [{"Variable": variable, "StringEquals": waiting, "Next": wait}], choice
    # Failed, Stopped and Stopping never reach the Choices: the status tasks raise their named errors.
    assert {
        "DistillationJobFailed",
        "DistillationJobStopped",
        "ModelDeploymentFailed",
        "EvaluationJobFailed",
        "EvaluationJobStopped",
        "EvaluationTimedOut",
    } <= FATAL


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
    states = definition["States"]
    inner = states["Serve"]["Branches"][0]["States"]
    assert inner["WaitForProvisionedThroughput"]["SecondsPath"] == "$.run.provisionedThroughputPollSeconds"
    assert inner["WaitForModelDeployment"]["SecondsPath"] == "$.run.modelDeploymentPollSeconds"
    # Bedrock sends no evaluation-job or deployment events (EventBridge reference, "Amazon Bedrock events"): polls
    assert states["WaitForEvaluation"]["SecondsPath"] == "$.run.evaluationPollSeconds"
    assert wait_cycle(definition, EVALUATION_WAIT_CYCLE) == EVALUATION_WAIT_CYCLE
    assert wait_cycle(definition, MODEL_DEPLOYMENT_WAIT_CYCLE) == MODEL_DEPLOYMENT_WAIT_CYCLE


def _context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def _shipped_waits() -> Waits:
    """The waits of a deployment with cdk.json's configuration; the runtime's defaults where cdk.json sets none."""
    evaluation = _context().get("evaluation", {})
    return Waits(
        job_poll_seconds=_context()["jobPollIntervalSeconds"],
        serving_poll_seconds=max(PROVISIONED_THROUGHPUT_POLL_SECONDS, DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS),
        evaluation_poll_seconds=evaluation.get("pollSeconds", DEFAULT_EVALUATION_POLL_SECONDS),
        evaluation_seconds=int(evaluation.get("maxEvaluationHours", DEFAULT_MAX_EVALUATION_SECONDS / 3600) * 3600),
    )


def _shortest_waits(evaluation_poll_seconds: int) -> Waits:
    """The waits at the shortest job poll a run may ask for, the judge at the runtime's default deadline."""
    return Waits(
        job_poll_seconds=MIN_JOB_POLL_INTERVAL_SECONDS,
        serving_poll_seconds=min(PROVISIONED_THROUGHPUT_POLL_SECONDS, DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS),
        evaluation_poll_seconds=evaluation_poll_seconds,
        evaluation_seconds=DEFAULT_MAX_EVALUATION_SECONDS,
    )


def test_a_seven_day_job_and_a_full_day_of_judging_fit_the_history_limit(definition: dict[str, Any]) -> None:
    # Given the waits the app ships with, every job event lost, the serving slow and the judge at its deadline
    shipped = _shipped_waits()
    # When we count the worst-case history, every state once, every retry used once
    events = worst_case_history(definition, shipped)
    # Then it stays under Step Functions' 25,000-event limit
    assert events < HISTORY_LIMIT, events
    # And so it does with the job polled as often as a run may, at the shortest evaluation poll that fits
    shortest = shortest_evaluation_poll_seconds(definition, _shortest_waits(DEFAULT_EVALUATION_POLL_SECONDS))
    assert worst_case_history(definition, _shortest_waits(shortest)) < HISTORY_LIMIT
    # And the bounds are real: one second less does not fit, nor a job polled every minute
    assert worst_case_history(definition, _shortest_waits(shortest - 1)) >= HISTORY_LIMIT
    assert worst_case_history(definition, Waits(60, 60, DEFAULT_EVALUATION_POLL_SECONDS, 24 * 3600)) > HISTORY_LIMIT
    # And the floor the functions enforce (MIN_EVALUATION_POLL_INTERVAL_SECONDS) is at least that shortest poll
    assert shortest <= MIN_EVALUATION_POLL_INTERVAL_SECONDS <= DEFAULT_EVALUATION_POLL_SECONDS


def test_the_planning_refuses_an_evaluation_poll_below_the_floor_the_history_needs(definition: dict[str, Any]) -> None:
    # Given functions whose evaluation-poll floor is the shortest poll that fits beside a 7-day job
    floor = shortest_evaluation_poll_seconds(definition, _shortest_waits(DEFAULT_EVALUATION_POLL_SECONDS))
    settings = pipeline_settings(min_evaluation_poll_seconds=floor)
    execution = ExecutionContext(id="arn:aws:states:us-west-2:123456789012:execution:distillation:r", name="r")

    def plan(evaluation_seconds: int) -> Run:
        document = {
            "trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"},
            "pollIntervals": {"evaluationSeconds": evaluation_seconds},
        }
        return plan_run(ExecutionInput.model_validate(document), execution, settings)

    # When a run asks for one second less, it is refused before anything exists; at the floor, it is planned
    with pytest.raises(ValueError, match=r"pollIntervals\.evaluationSeconds must be at least"):
        plan(floor - 1)
    assert plan(floor).evaluation_poll_seconds == floor


def test_waiting_seven_days_costs_a_handful_of_transitions_instead_of_thousands(definition: dict[str, Any]) -> None:
    # Given the default fallback interval, and the 300-second poll the workflow used before job events
    default_interval = _context()["jobPollIntervalSeconds"]
    # When a 7-day job is waited for
    with_events = job_wait_transitions(definition, SEVEN_DAYS, default_interval)
    polling = job_wait_transitions(definition, SEVEN_DAYS, 300)
    # Then the callback costs one status read per fallback interval: 14 rounds of 3 states at 12 hours
    assert (default_interval, with_events) == (12 * 3600, 42)
    assert polling == 2016 * 3
    # And the cycle the count assumes is the definition's own
    assert job_wait_cycle(definition) == ("WaitForJobEvent", "GetJobStatus", "JobCompleted?")


def test_execution_timeout_covers_a_seven_day_job_and_a_day_of_judging_and_is_the_out_of_band_cleanups_job(
    definition: dict[str, Any],
) -> None:
    # A timeout (like StopExecution and States.Runtime) is not caught by States.ALL on AWS, although moto's
    # interpreter catches States.Runtime; those ends are cleaned up outside the workflow (the execution-status
    # rule and the sweeper), so the timeout must at least outlast the longest legitimate run.
    assert definition["TimeoutSeconds"] == EXECUTION_TIMEOUT_SECONDS
    assert EXECUTION_TIMEOUT_SECONDS > SEVEN_DAYS + SERVING_BUDGET_SECONDS + DEFAULT_MAX_EVALUATION_SECONDS
