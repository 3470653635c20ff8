"""The workflow's end-of-run message (`run_outcome`): what it reports from the execution's state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bedrock_distill.gateways.stepfunctions import ExecutionHistory, StepFunctionsGateway
from bedrock_distill.workflow.errors import RequestRejected
from bedrock_distill.workflow.notify import DEFAULT_NEXT_STEP, NEXT_STEPS, RunState, run_outcome

pytestmark = pytest.mark.unit

EXECUTION = "arn:aws:states:us-west-2:123456789012:execution:distillation:run-1"
JOB = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/abc"
MODEL = "arn:aws:bedrock:us-west-2:123456789012:custom-model/xyz"


class _Executions(StepFunctionsGateway):
    """The execution's history as given, or the error reading it raises."""

    def __init__(self, events: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self._history_events = events or []
        self._error = error

    def history(self, arn: str) -> ExecutionHistory:
        if self._error is not None:
            raise self._error
        return ExecutionHistory(self._history_events)


def _failed_in(state: str) -> list[dict[str, Any]]:
    return [
        {"id": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": state}},
        {"id": 2, "type": "LambdaFunctionFailed"},
    ]


def _state(document: dict[str, Any]) -> RunState:
    # As the state machine passes it: camelCase JSON.
    return RunState.model_validate(json.loads(json.dumps(document)))


def test_a_successful_run_reports_its_model_loss_validation_and_pt_cost() -> None:
    # Given the state of a run that got to the end: job, metrics, validation, and a PT alive 90 minutes on 2 units
    state = _state(
        {
            "run": {"jobName": "ignored"},
            "job": {"jobArn": JOB, "status": "Completed", "outputModelArn": MODEL},
            "metrics": {"trainingSteps": 10, "finalTrainingLoss": 0.25, "reportUri": "s3://b/r/metrics.json"},
            "serving": {"validation": {"succeeded": 5, "failed": 0}},
            "deletion": {"provisionedModelId": "pt", "deleted": True, "modelUnits": 2, "aliveSeconds": 5400.0},
        }
    )
    # When the outcome is built at $20 per unit-hour
    outcome = run_outcome("SUCCEEDED", EXECUTION, state, 20.0, _Executions())
    # Then it names the job and model, the final loss and the validation summary
    assert outcome.status == "SUCCEEDED"
    assert outcome.job_arn == JOB
    assert outcome.custom_model_arn == MODEL
    assert outcome.final_training_loss == 0.25
    assert outcome.validation == {"succeeded": 5, "failed": 0}
    # And the PT's hours, and its cost by started hour: 2 hours x 2 units x $20
    assert outcome.provisioned_throughput_hours == 1.5
    assert outcome.estimated_provisioned_throughput_cost_usd == 80.0
    # And no error or next step
    assert outcome.error is None
    assert outcome.next_step is None


def test_without_a_price_or_a_deleted_pt_there_is_no_cost_estimate() -> None:
    # Given a run whose PT was already gone (no units, no lifetime), and one with a PT but no configured price
    gone = _state({"deletion": {"provisionedModelId": "pt", "deleted": False, "modelUnits": None}})
    unpriced = _state({"deletion": {"deleted": True, "modelUnits": 1, "aliveSeconds": 60}})
    # When their outcomes are built
    gone_outcome = run_outcome("SUCCEEDED", EXECUTION, gone, 20.0, _Executions())
    unpriced_outcome = run_outcome("SUCCEEDED", EXECUTION, unpriced, 0.0, _Executions())
    # Then neither estimates a cost; the one with a lifetime still reports its hours
    assert gone_outcome.estimated_provisioned_throughput_cost_usd is None
    assert gone_outcome.provisioned_throughput_hours is None
    assert unpriced_outcome.estimated_provisioned_throughput_cost_usd is None
    assert unpriced_outcome.provisioned_throughput_hours == 0.017


def test_a_failed_run_says_where_why_and_what_to_do_next() -> None:
    # Given a run that failed in Preflight; the Lambda error's cause is its JSON error payload
    cause = json.dumps({"errorMessage": "3 records are invalid", "errorType": "PreflightFailed"})
    state = _state({"failure": {"Error": "PreflightFailed", "Cause": cause}})
    # When the outcome is built
    outcome = run_outcome("FAILED", EXECUTION, state, 0.0, _Executions(_failed_in("Preflight")))
    # Then it names the error, the readable message, the failing state and the error's next step
    assert outcome.status == "FAILED"
    assert outcome.error == "PreflightFailed"
    assert outcome.cause == "3 records are invalid"
    assert outcome.failing_state == "Preflight"
    assert outcome.next_step == NEXT_STEPS["PreflightFailed"]


def test_a_failure_with_an_unknown_error_and_an_unreadable_history_still_gets_a_message() -> None:
    # Given a failure the table has no next step for, a cause that is not JSON, and a history that cannot be read
    state = _state({"failure": {"Error": "States.TaskFailed", "Cause": "plain text"}})
    executions = _Executions(error=RequestRejected("AccessDenied"))
    # When the outcome is built
    outcome = run_outcome("FAILED", EXECUTION, state, 0.0, executions)
    # Then it carries the cause as given, the default next step, and no failing state
    assert outcome.cause == "plain text"
    assert outcome.next_step == DEFAULT_NEXT_STEP
    assert outcome.failing_state is None


DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghij12"
SCORECARD = {
    "decision": "hold",
    "reason": "hold: the student's mean Builtin.Correctness is 0.500 against the teacher's 1.000",
    "decisionMetric": "Builtin.Correctness",
    "studentShare": 0.5,
    "scorecardUri": "s3://outputs/jobs/run-1/report/scorecard.json",
    "servingMode": "on-demand",
}


def _judged_run(*, keep: bool, failure: dict[str, str] | None = None) -> RunState:
    document: dict[str, Any] = {
        "run": {"servingMode": "on-demand", "servingReason": "on demand: AWS deploys ...", "keepDeployment": keep},
        "serving": {"student": {"modelArn": DEPLOYMENT}, "validation": {"succeeded": 5}},
        "scorecard": SCORECARD,
    }
    if failure is not None:
        document["failure"] = failure
    return _state(document)


def test_a_judged_run_reports_its_serving_its_kept_deployment_and_its_decision() -> None:
    # Given a successful on-demand run asked to keep its deployment, and scored
    state = _judged_run(keep=True)
    # When the outcome is built
    outcome = run_outcome("SUCCEEDED", EXECUTION, state, 0.0, _Executions())
    # Then it says how the student was served and why, hands over the kept deployment, and gives the verdict
    assert (outcome.serving_mode, outcome.serving_reason) == ("on-demand", "on demand: AWS deploys ...")
    assert outcome.kept_model_deployment_arn == DEPLOYMENT
    assert (outcome.decision, outcome.decision_reason) == ("hold", SCORECARD["reason"])
    assert outcome.scorecard_uri == SCORECARD["scorecardUri"]
    # And the published message carries all of it
    message = json.loads(json.dumps(outcome.model_dump(exclude_none=True)))
    assert {"serving_mode", "kept_model_deployment_arn", "decision", "decision_reason", "scorecard_uri"} <= set(message)


@pytest.mark.parametrize(
    ("status", "keep", "failure"),
    [
        pytest.param("SUCCEEDED", False, None, id="not asked to keep"),
        pytest.param("FAILED", True, {"Error": "EvaluationJobFailed", "Cause": "judge"}, id="failed run keeps nothing"),
    ],
)
def test_no_deployment_is_handed_over_unless_a_successful_run_kept_it(
    status: str, keep: bool, failure: dict[str, str] | None
) -> None:
    outcome = run_outcome(status, EXECUTION, _judged_run(keep=keep, failure=failure), 0.0, _Executions())
    assert outcome.kept_model_deployment_arn is None
    assert outcome.serving_mode == "on-demand"


def test_the_judges_errors_have_next_steps() -> None:
    for error in ("TeacherInferenceFailed", "EvaluationJobFailed", "EvaluationJobStopped", "EvaluationTimedOut",
                  "EvaluationResultsUnreadable"):  # fmt: skip
        assert error in NEXT_STEPS
