"""Planning how a run serves its student (on demand where AWS offers it, else Provisioned Throughput) and the names
its judge uses: decided before anything exists, so a wrong choice costs nothing."""

from __future__ import annotations

import re

import pytest
from botocore.session import get_session

from bedrock_distill.workflow.run import (
    KEEP_ON_SUCCESS_TAG_KEY,
    ExecutionContext,
    ExecutionInput,
    Run,
    plan_run,
    resource_names,
)
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

EXECUTION = ExecutionContext(
    id="arn:aws:states:us-east-1:123456789012:execution:distillation:Run_1+Nova", name="Run_1+Nova"
)
NOVA = {"teacherModelId": "amazon.nova-pro-v1:0", "studentModelId": "amazon.nova-lite-v1:0:300k"}
NOVA_SETTINGS = {
    "default_teacher_model_id": NOVA["teacherModelId"],
    "default_student_model_id": NOVA["studentModelId"],
    "deploy_region": "us-east-1",
}
_BEDROCK = get_session().get_service_model("bedrock")


def _plan(region: str = "us-east-1", **fields: object) -> Run:
    document: dict[str, object] = {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}, **fields}
    settings = pipeline_settings(**(NOVA_SETTINGS | {"deploy_region": region}))
    return plan_run(ExecutionInput.model_validate(document), EXECUTION, settings)


def _botocore_pattern(operation: str, member: str) -> re.Pattern[str]:
    shape = _BEDROCK.operation_model(operation).input_shape.members[member]
    return re.compile(f"^(?:{shape.metadata['pattern']})$")


def test_a_nova_student_is_served_on_demand_where_aws_deploys_it() -> None:
    # Given a Nova Lite student in us-east-1, and an input that leaves servingMode to "auto"
    run = _plan()
    # Then the run deploys it on demand, and says why, naming the user guide's page
    assert (run.serving_mode_requested, run.serving_mode) == ("auto", "on-demand")
    assert "Deploy a custom model for on-demand inference" in run.serving_reason


def test_a_llama_student_falls_back_to_provisioned_throughput_and_says_why() -> None:
    # Given the Llama default pair of a us-west-2 deployment
    document = {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}}
    run = plan_run(ExecutionInput.model_validate(document), EXECUTION, pipeline_settings())
    # Then it buys Provisioned Throughput, because AWS offers no on-demand deployment for Llama
    assert run.serving_mode == "provisioned"
    assert "meta.llama3-1-8b-instruct-v1:0:128k is not a base model AWS offers on-demand deployment for" in (
        run.serving_reason
    )


def test_the_regions_follow_the_page_not_our_older_notes() -> None:
    # Given the page's table (Nova: us-east-1 only; Llama 3.3 70B: us-west-2), not bedrock-facts.md's "either"
    assert _plan(region="us-west-2").serving_mode == "provisioned"
    llama_33 = pipeline_settings(
        default_teacher_model_id="meta.llama3-1-405b-instruct-v1:0",
        default_student_model_id="meta.llama3-3-70b-instruct-v1:0:128k",
    )
    document = {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}}
    assert plan_run(ExecutionInput.model_validate(document), EXECUTION, llama_33).serving_mode == "on-demand"


def test_provisioned_can_be_forced_for_a_student_that_could_go_on_demand() -> None:
    run = _plan(servingMode="provisioned")
    assert run.serving_mode == "provisioned"
    assert "as the input asked" in run.serving_reason


def test_forcing_on_demand_where_aws_does_not_offer_it_fails_before_anything_exists() -> None:
    # Given a Nova student in a Region outside the page's list
    with pytest.raises(ValueError, match=r"input\.servingMode: 'on-demand' is not possible: .* not in eu-west-1"):
        _plan(region="eu-west-1", servingMode="on-demand")


def test_keeping_a_deployment_a_provisioned_run_never_makes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"input\.keepDeployment: this run buys Provisioned Throughput"):
        _plan(servingMode="provisioned", keepDeployment=True)


def test_a_kept_deployment_carries_the_keep_on_success_tag_and_a_deleted_one_does_not() -> None:
    kept = _plan(keepDeployment=True)
    assert {"key": KEEP_ON_SUCCESS_TAG_KEY, "value": "true"} in kept.model_deployment_tags()
    assert [tag["key"] for tag in _plan().model_deployment_tags()] == [tag["key"] for tag in _plan().tags()]


def test_unknown_serving_modes_are_refused_by_the_input_model() -> None:
    with pytest.raises(ValueError, match="servingMode"):
        _plan(servingMode="serverless")


@pytest.mark.parametrize("execution_name", ["Run_1+Nova", "A" * 80, "distill-2026-11-28T21:00:00Z", "ÜBER run"])
def test_every_judge_and_deployment_name_fits_botocores_patterns(execution_name: str) -> None:
    # Given any execution name Step Functions allows
    names = resource_names(execution_name, f"arn:aws:states:us-east-1:123456789012:execution:sm:{execution_name}")
    # Then the names fit the request shapes Bedrock validates (EvaluationJobName is lowercase only)
    evaluation_name = _botocore_pattern("CreateEvaluationJob", "jobName")
    deployment_name = _botocore_pattern("CreateCustomModelDeployment", "modelDeploymentName")
    for name in (names.student_evaluation_job_name, names.teacher_evaluation_job_name):
        assert evaluation_name.match(name), name
        assert len(name) <= 63, name
    assert deployment_name.match(names.model_deployment_name)
    assert len(names.model_deployment_name) <= 63
    assert names.student_evaluation_job_name != names.teacher_evaluation_job_name


def test_the_judge_files_live_under_the_runs_prefix_and_tokens_differ_per_call() -> None:
    run = _plan()
    prefix = run.output_s3_uri
    for uri in (
        run.teacher_responses_uri,
        run.student_responses_uri,
        run.student_evaluation_dataset_uri,
        run.teacher_evaluation_dataset_uri,
        run.evaluation_output_uri,
        run.scorecard_uri,
    ):
        assert uri.startswith(prefix), uri
    tokens = {
        run.job_client_request_token,
        run.provisioned_throughput_client_request_token,
        run.model_deployment_client_request_token,
        run.student_evaluation_client_request_token,
        run.teacher_evaluation_client_request_token,
    }
    assert len(tokens) == 5


def test_an_evaluation_poll_too_short_for_the_history_is_refused() -> None:
    with pytest.raises(ValueError, match=r"pollIntervals\.evaluationSeconds must be at least 120"):
        _plan(pollIntervals={"evaluationSeconds": 119})
    assert _plan(pollIntervals={"evaluationSeconds": 120}).evaluation_poll_seconds == 120


@pytest.mark.parametrize("field", ["provisionedThroughputSeconds", "modelDeploymentSeconds"])
def test_a_serving_poll_too_short_for_the_history_is_refused(field: str) -> None:
    # Given the functions' floor (60 s: the history budget counts provisioning at a round a minute)
    with pytest.raises(ValueError, match=rf"pollIntervals\.{field} must be at least 60"):
        _plan(pollIntervals={field: 59})
    # And at the floor the run is planned
    run = _plan(pollIntervals={field: 60})
    assert 60 in (run.provisioned_throughput_poll_seconds, run.model_deployment_poll_seconds)
