"""Planning a run: the limits a deployment puts on what an execution input may ask for."""

from __future__ import annotations

import pytest

from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, plan_run
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

EXECUTION = ExecutionContext(id="arn:aws:states:us-east-1:123456789012:execution:distillation:run-1", name="run-1")


def _input(job_seconds: int | None = None) -> ExecutionInput:
    document: dict[str, object] = {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}}
    if job_seconds is not None:
        document["pollIntervals"] = {"jobSeconds": job_seconds}
    return ExecutionInput.model_validate(document)


def test_a_run_waits_with_the_deployments_fallback_unless_it_asks_for_another() -> None:
    assert plan_run(_input(), EXECUTION, pipeline_settings()).job_poll_seconds == 43_200
    assert plan_run(_input(3_600), EXECUTION, pipeline_settings()).job_poll_seconds == 3_600


def test_a_fallback_too_short_for_a_seven_day_history_is_refused() -> None:
    # Given a deployment's minimum (600 s by default: 25,000 history events for 7 days of lost events)
    with pytest.raises(ValueError, match=r"pollIntervals\.jobSeconds must be at least 600"):
        plan_run(_input(60), EXECUTION, pipeline_settings())
    # And a deployment that lowers it (the offline pipeline, whose waits really sleep) accepts it
    assert plan_run(_input(1), EXECUTION, pipeline_settings(min_job_poll_seconds=1)).job_poll_seconds == 1


def test_without_validation_prompts_the_job_trains_on_a_remainder_and_validates_on_held_out_prompts() -> None:
    # Given a run from S3 prompts with no validationPrompts
    run = plan_run(_input(), EXECUTION, pipeline_settings())
    # Then Preflight reads the dataset, but the job trains on the remainder it writes under the run's prefix
    assert run.training_source_uri == "s3://inputs/datasets/prompts.jsonl"
    assert run.training_data_config == {"s3Uri": "s3://outputs/jobs/run-1/data/training.jsonl"}
    # And validation runs on the prompts it holds out, and says so
    assert run.validation_prompts == "s3://outputs/jobs/run-1/data/held-out.jsonl"
    assert run.validation_prompts_source == "held-out"


def test_given_validation_prompts_leave_the_training_prompts_whole() -> None:
    document = {
        "trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"},
        "validationPrompts": "s3://inputs/datasets/held-out.jsonl",
    }
    run = plan_run(ExecutionInput.model_validate(document), EXECUTION, pipeline_settings())
    assert run.training_data_config == {"s3Uri": "s3://inputs/datasets/prompts.jsonl"}
    assert (run.validation_prompts, run.validation_prompts_source) == ("s3://inputs/datasets/held-out.jsonl", "given")


def test_invocation_logs_still_need_validation_prompts() -> None:
    # Given a run from invocation logs, which hold no file to hold prompts out of
    document = {"trainingData": {"invocationLogs": {"requestMetadataFilters": {"equals": {"project": "t"}}}}}
    with pytest.raises(ValueError, match="validationPrompts is required when training from invocation logs"):
        plan_run(ExecutionInput.model_validate(document), EXECUTION, pipeline_settings())


# --- S3 URIs Bedrock would refuse (its S3Uri shape; bedrock_uris.py) ------------------------------------


def _given_prompts(prompts: str) -> ExecutionInput:
    # With validationPrompts given, the job reads the prompts themselves.
    document = {"trainingData": {"prompts": prompts}, "validationPrompts": "s3://inputs/datasets/held-out.jsonl"}
    return ExecutionInput.model_validate(document)


def test_prompts_bedrock_could_not_read_are_refused_naming_the_field_the_value_and_the_allowed_characters() -> None:
    # Given prompts whose key has characters S3 stores but Bedrock's S3Uri pattern refuses
    uri = "s3://inputs/datasets/my data+v2=final@home.jsonl"
    # When the run is planned (Preflight), Then it is refused before any job exists
    with pytest.raises(ValueError, match=r"input\.trainingData\.prompts") as raised:
        plan_run(_given_prompts(uri), EXECUTION, pipeline_settings())
    message = str(raised.value)
    assert uri in message
    assert "trainingDataConfig.s3Uri" in message
    assert "' ' '+' '=' '@'" in message
    assert "letters, digits and - ! _ * ' ( ) ." in message


def test_an_invocation_log_source_bedrock_could_not_read_is_refused() -> None:
    document = {
        "trainingData": {"invocationLogs": {"source": "s3://logs/AWS Logs/", "requestMetadataFilters": {}}},
        "validationPrompts": "s3://inputs/datasets/held-out.jsonl",
    }
    with pytest.raises(ValueError, match=r"input\.trainingData\.invocationLogs\.source: .*'s3://logs/AWS Logs/'"):
        plan_run(ExecutionInput.model_validate(document), EXECUTION, pipeline_settings())


def test_a_deployment_setting_bedrock_could_not_read_is_refused_as_such() -> None:
    # Given a deployment whose invocation log source Bedrock would refuse (its bucket name has capitals)
    document = {
        "trainingData": {"invocationLogs": {"requestMetadataFilters": {"equals": {"project": "t"}}}},
        "validationPrompts": "s3://inputs/datasets/held-out.jsonl",
    }
    settings = pipeline_settings(invocation_log_source="s3://Logs/AWSLogs")
    with pytest.raises(ValueError, match=r"the deployment's settings: .*invocationLogSource\.s3Uri"):
        plan_run(ExecutionInput.model_validate(document), EXECUTION, settings)


def test_an_execution_name_bedrock_could_not_take_in_a_uri_gets_a_run_folder_it_can() -> None:
    # Given an execution name Step Functions allows but Bedrock's S3Uri does not ('+', '=', '@')
    execution = ExecutionContext(id=f"{EXECUTION.id.rsplit(':', 1)[0]}:run+1=a@b", name="run+1=a@b")
    # When the run is planned, Then its output (and reports) go under a folder Bedrock accepts, named after it
    run = plan_run(_given_prompts("s3://inputs/datasets/prompts.jsonl"), execution, pipeline_settings())
    assert run.output_s3_uri.startswith("s3://outputs/jobs/run-1-a-b-")
    assert run.report_s3_uri == f"{run.output_s3_uri}report/"
    # And an execution name Bedrock accepts is its folder unchanged
    assert plan_run(_input(), EXECUTION, pipeline_settings()).output_s3_uri == "s3://outputs/jobs/run-1/"


def test_prompts_only_preflight_reads_may_have_any_key() -> None:
    # Given prompts Bedrock could not read, and no validationPrompts: Preflight holds prompts out and the job
    # trains on the remainder it writes under the run's folder, so Bedrock never reads the given key
    document = {"trainingData": {"prompts": "s3://inputs/uploads/my data (v2).jsonl"}}
    run = plan_run(ExecutionInput.model_validate(document), EXECUTION, pipeline_settings())
    assert run.training_data_config == {"s3Uri": "s3://outputs/jobs/run-1/data/training.jsonl"}
