"""IAM as synthesized holds even if a function's code is wrong: acting as a function's role, a delete, stop or purchase
aimed at a resource that is not this project's is refused with AccessDeniedException, whatever the code decided.

The cleanup code filters by tags before it deletes or stops anything; these tests skip that code and call Bedrock
directly as the function's role, as a bug in it would. The tag conditions are in stacks/components/grants.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bedrock_distill.workflow.jobs import job_request
from bedrock_distill.workflow.run import PROJECT_TAG_KEY, ExecutionContext, ExecutionInput, Run, plan_run
from offline.bedrock_emulator import BedrockEmulator
from offline.iam.enforcer import Enforcer, Principal
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import prompts_input

pytestmark = pytest.mark.workflow

JOB_SECONDS = 3 * 3600
# A PT's model for the delete tests: what it was bought for does not matter to a delete.
FOUNDATION_MODEL = "meta.llama3-1-8b-instruct-v1:0:128k"
ANOTHER_TEAMS_TAGS = [{"key": PROJECT_TAG_KEY, "value": "another-team"}]


def _acting_as(pipeline: LocalPipeline, function: str) -> Principal:
    """The role of one of the stack's functions, with its policies as synthesized."""
    (principal,) = [p for name, p in pipeline.lambdas.principals.items() if name.endswith(f"-{function}")]
    return principal


def _refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    error: dict[str, Any] = raised.value.response["Error"]
    return error


def _planned_run(pipeline: LocalPipeline, name: str) -> Run:
    """A run as the workflow plans it; trained on the uploaded prompts, so its job needs nothing Preflight writes."""
    assert pipeline.settings is not None
    execution_input = prompts_input(pipeline)
    execution_input["validationPrompts"] = execution_input["trainingData"]["prompts"]
    execution_arn = pipeline.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    return plan_run(
        ExecutionInput.model_validate(execution_input), ExecutionContext(id=execution_arn, name=name), pipeline.settings
    )


def _create_job(pipeline: LocalPipeline, run: Run, tags: list[dict[str, str]]) -> str:
    """The test's own set-up (no principal): a distillation job whose job and custom model carry `tags`."""
    assert pipeline.settings is not None
    request = job_request(run, pipeline.settings) | {"jobTags": tags, "customModelTags": tags}
    return str(boto3.client("bedrock").create_model_customization_job(**request)["jobArn"])


def _buy(tags: list[dict[str, str]], name: str, model: str = FOUNDATION_MODEL) -> str:
    request: dict[str, Any] = {"modelUnits": 1, "provisionedModelName": name, "modelId": model, "tags": tags}
    return str(boto3.client("bedrock").create_provisioned_model_throughput(**request)["provisionedModelArn"])


@pytest.mark.parametrize("function", ["DeleteProvisionedThroughput", "CleanUpExecution", "SweepProvisionedThroughputs"])
def test_a_function_that_deletes_pts_may_delete_only_the_projects(
    pipeline: LocalPipeline, emulator: BedrockEmulator, function: str
) -> None:
    # Given a PT of this project's, another team's and an untagged one
    ours = _buy(_planned_run(pipeline, "ours").tags(), "ours")
    theirs = _buy(ANOTHER_TEAMS_TAGS, "theirs")
    untagged = _buy([], "untagged")
    bedrock = boto3.client("bedrock")
    with Enforcer.acting_as(_acting_as(pipeline, function)):
        # When the function's role deletes the others, as wrong code would
        refusals = [
            _refused(partial(bedrock.delete_provisioned_model_throughput, provisionedModelId=arn))
            for arn in (theirs, untagged)
        ]
        # And deletes its own
        bedrock.delete_provisioned_model_throughput(provisionedModelId=ours)
    # Then IAM refused the others with AccessDeniedException naming each, and only the project's PT is gone
    assert [r["Code"] for r in refusals] == ["AccessDeniedException"] * 2
    assert theirs in refusals[0]["Message"]
    assert untagged in refusals[1]["Message"]
    assert all("bedrock:DeleteProvisionedModelThroughput" in r["Message"] for r in refusals)
    assert sorted(pt.arn for pt in emulator.live_provisioned_throughputs()) == sorted([theirs, untagged])
    for arn in (theirs, untagged):  # the test's own tidying: nothing may be left billing
        bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)


def test_the_execution_end_cleanup_may_stop_only_the_projects_jobs(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a running job of this project's and one of another team's
    ours_run = _planned_run(pipeline, "ours")
    ours = _create_job(pipeline, ours_run, ours_run.tags())
    theirs = _create_job(pipeline, _planned_run(pipeline, "theirs"), ANOTHER_TEAMS_TAGS)
    bedrock = boto3.client("bedrock")
    # When the execution-end cleanup's role stops both
    with Enforcer.acting_as(_acting_as(pipeline, "CleanUpExecution")):
        refusal = _refused(lambda: bedrock.stop_model_customization_job(jobIdentifier=theirs))
        bedrock.stop_model_customization_job(jobIdentifier=ours)
    # Then only the project's job is stopping; the other team's was refused by IAM and keeps training
    assert refusal["Code"] == "AccessDeniedException"
    assert f"bedrock:StopModelCustomizationJob on resource: {theirs}" in refusal["Message"]
    assert bedrock.get_model_customization_job(jobIdentifier=ours)["status"] in {"Stopping", "Stopped"}
    assert bedrock.get_model_customization_job(jobIdentifier=theirs)["status"] == "InProgress"


def test_a_pt_may_be_bought_only_on_the_projects_custom_model_and_tagged_as_a_run_tags_it(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a custom model this project's run trained and one another team trained
    run = _planned_run(pipeline, "ours")
    jobs = {"ours": _create_job(pipeline, run, run.tags())}
    jobs["theirs"] = _create_job(pipeline, _planned_run(pipeline, "theirs"), ANOTHER_TEAMS_TAGS)
    emulator.advance(JOB_SECONDS)
    bedrock = boto3.client("bedrock")
    models = {
        owner: str(bedrock.get_model_customization_job(jobIdentifier=arn)["outputModelArn"])
        for owner, arn in jobs.items()
    }
    # When the PT-buying function's role buys on the other team's model, or untagged, or with a key runs never send
    with Enforcer.acting_as(_acting_as(pipeline, "CreateProvisionedThroughput")):
        refusals = {
            "another team's model": _refused(lambda: _buy(run.tags(), "pt-1", models["theirs"])),
            "no tags": _refused(lambda: _buy([], "pt-2", models["ours"])),
            "another team's tag": _refused(lambda: _buy(ANOTHER_TEAMS_TAGS, "pt-3", models["ours"])),
            "an extra tag key": _refused(
                lambda: _buy([*run.tags(), {"key": "cost-center", "value": "x"}], "pt-4", models["ours"])
            ),
        }
        # And buys as a run does
        bought = _buy(run.tags(), "pt-5", models["ours"])
    # Then IAM refused every other purchase, and only the run's PT exists
    assert {why: r["Code"] for why, r in refusals.items()} == dict.fromkeys(refusals, "AccessDeniedException")
    assert models["theirs"] in refusals["another team's model"]["Message"]
    assert [pt.arn for pt in emulator.live_provisioned_throughputs()] == [bought]
    bedrock.delete_provisioned_model_throughput(provisionedModelId=bought)
