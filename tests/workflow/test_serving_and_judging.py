"""Runs that serve the student on demand or on PT, answer with both models and judge them: what is bought, what is
left behind, and a scorecard whose numbers are the evaluation jobs' output files'."""

from __future__ import annotations

import json

import boto3
import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import (
    ON_DEMAND_STUDENT,
    ON_DEMAND_TEACHER,
    entered_states,
    on_demand_input,
    published_outcomes,
    run_to_end,
    task_results,
)
from tests.workflow.scorecards import assert_traceable_to_the_output_files

pytestmark = pytest.mark.workflow

# A student that answers like its teacher this rarely keeps well under promoteMinShare (0.9) of its score.
POOR_FIDELITY = 0.1


def test_an_on_demand_run_buys_no_pt_deletes_its_deployment_before_the_judge_and_is_promoted(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given a student AWS deploys on demand in this Region, distilled to answer as its teacher would, a deployment
    # create that dies after Bedrock accepted it, and a deletion Bedrock refuses once as a conflict
    emulator.faults.degrade_student(1.0)
    pipeline.lambdas.fail_next(
        f"{pipeline.names.prefix}-CreateModelDeployment", "ThrottlingException", after_running=True
    )
    emulator.faults.conflict_on_model_deployment_delete()
    # When a run is started with servingMode left to "auto"
    result = run_to_end(pipeline, on_demand_input(pipeline), "on-demand")
    # Then it succeeds, served on demand, and no Provisioned Throughput was bought
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["run"]["servingMode"] == "on-demand"
    assert emulator.call_count("CreateProvisionedModelThroughput") == 0
    assert emulator.provisioned_throughputs == {}
    # And the retried create sent the same name and token: one deployment of the distilled model answered as the
    # student, tagged with the execution
    assert emulator.call_count("CreateCustomModelDeployment") == 2
    (deployment,) = emulator.model_deployments.values()
    assert deployment.name == output["run"]["modelDeploymentName"]
    assert deployment.model_arn == output["job"]["outputModelArn"]
    assert output["serving"]["student"]["modelArn"] == deployment.arn
    (create, _) = [call.params for call in emulator.calls if call.operation == "CreateCustomModelDeployment"]
    assert {"key": "bedrock-distill:execution-arn", "value": result["executionArn"]} in create["tags"]
    # And the workflow deleted it (after the conflict) before the judge started, as its own history records
    states = entered_states(pipeline, result["executionArn"])
    assert states.index("DeleteModelDeployment") < states.index("CreateEvaluationJobs")
    (deletion,) = task_results(pipeline, result["executionArn"], "DeleteModelDeployment")
    assert deletion["deleted"] is True
    assert output["modelDeploymentDeletion"] == deletion
    assert "deletion" not in output, "that is the PT's deletion, which the outcome prices by the hour"
    assert deployment.deleted
    operations = [call.operation for call in emulator.calls]
    assert operations.count("DeleteCustomModelDeployment") == 2
    assert max(i for i, op in enumerate(operations) if op == "DeleteCustomModelDeployment") < operations.index(
        "CreateEvaluationJob"
    )
    # And both sides were judged, and the scorecard's numbers are those of the jobs' output files
    assert len(emulator.evaluation_jobs) == 2
    scorecard = assert_traceable_to_the_output_files(output)
    assert scorecard["servingMode"] == "on-demand"
    assert (scorecard["student"]["modelId"], scorecard["teacher"]["modelId"]) == (ON_DEMAND_STUDENT, ON_DEMAND_TEACHER)
    # And a student that answers as its teacher does keeps its score: promote, in the outcome message too
    assert scorecard["decision"]["outcome"] == "promote", scorecard["decision"]
    (outcome,) = published_outcomes(outcomes)
    assert outcome["status"] == "SUCCEEDED"
    assert "promote" in json.dumps(outcome), outcome


def test_a_kept_deployment_outlives_its_run_even_when_the_student_is_held(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given a distilled model that rarely answers as its teacher would, and a run that asks to keep its deployment
    emulator.faults.degrade_student(POOR_FIDELITY)
    # When the run goes through
    result = run_to_end(pipeline, on_demand_input(pipeline, keepDeployment=True), "kept-and-held")
    # Then it succeeds, and the judge's scores (those of the output files) hold the student back, saying why
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    decision = assert_traceable_to_the_output_files(output)["decision"]
    assert decision["outcome"] == "hold", decision
    assert decision["share"] < decision["threshold"]
    assert output["scorecard"]["decision"] == "hold"
    # And the deployment was not deleted: it carries the keep-on-success tag, and the outcome hands its ARN over
    (deployment,) = emulator.live_model_deployments()
    assert emulator.tags_of(deployment.arn)["bedrock-distill:keep-on-success"] == "true"
    assert not {"DeleteModelDeployment", "DeleteModelDeploymentAfterFailure"} & set(
        entered_states(pipeline, result["executionArn"])
    )
    (outcome,) = published_outcomes(outcomes)
    assert deployment.arn in json.dumps(outcome), outcome
    # (its user deletes it when done with it; the fixture then checks that nothing is left)
    boto3.client("bedrock").delete_custom_model_deployment(customModelDeploymentIdentifier=deployment.arn)
