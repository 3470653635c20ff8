"""Model customization jobs: creation from both sources, idempotency, lifecycle, outputs and faults."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.bedrock_emulator.quotas import CUSTOMIZATION_JOBS_QUOTA
from tests.unit.emulator.builders import (
    BUCKET,
    JOB_SECONDS,
    REGION,
    STUDENT,
    client,
    distillation_request,
    invocation_logs_source,
    keys_under,
    upload_prompts,
)

pytestmark = pytest.mark.unit


def _read_csv(s3: Any, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())))


def test_a_job_from_prompts_runs_to_completed_writes_metrics_and_registers_the_model(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given 200 prompts in S3
    training = {"s3Uri": upload_prompts(s3, 200)}
    # When a distillation job of 3 epochs in batches of 10 is created and the clock passes its duration
    request = distillation_request(training, hyperParameters={"epochCount": "3", "batchSize": "10"})
    job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress"
    emulator.clock.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    # Then it completed, and its custom model is registered under the requested name
    assert job["status"] == "Completed"
    assert job["endTime"] > job["creationTime"]
    model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelName"] == job["outputModelName"] == "distilled-model-1"
    assert model["jobArn"] == job_arn
    assert model["baseModelArn"] == f"arn:aws:bedrock:{REGION}::foundation-model/{STUDENT}"
    summaries = bedrock.list_custom_models()["modelSummaries"]
    assert [summary["modelArn"] for summary in summaries] == [job["outputModelArn"]]
    # And the metrics CSVs are under the output URI, with the final training loss the job reports
    job_id = job_arn.rsplit("/", 1)[-1]
    prefix = f"output/model-customization-job-{job_id}/"
    training_rows = _read_csv(s3, prefix + "training_artifacts/step_wise_training_metrics.csv")
    assert list(training_rows[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert len(training_rows) == 3 * 200 // 10
    assert {row["epoch_number"] for row in training_rows} == {"1", "2", "3"}
    assert float(training_rows[-1]["training_loss"]) < float(training_rows[0]["training_loss"])
    assert float(training_rows[-1]["training_loss"]) == pytest.approx(job["trainingMetrics"]["trainingLoss"], abs=1e-6)
    validation_rows = _read_csv(s3, prefix + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv")
    assert "validation_loss" in validation_rows[0]
    assert len(validation_rows) == 3
    assert float(validation_rows[-1]["validation_loss"]) == pytest.approx(
        job["validationMetrics"][0]["validationLoss"], abs=1e-6
    )


def test_status_details_move_through_validation_data_processing_and_training(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a fresh job
    job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
        "jobArn"
    ]

    def phases() -> tuple[str, str, str]:
        details = bedrock.get_model_customization_job(jobIdentifier=job_arn)["statusDetails"]
        return (
            details["validationDetails"]["status"],
            details["dataProcessingDetails"]["status"],
            details["trainingDetails"]["status"],
        )

    # When time passes, Then each phase starts after the previous one completes
    assert phases() == ("InProgress", "NotStarted", "NotStarted")
    emulator.clock.advance(JOB_SECONDS * 0.1)
    assert phases() == ("Completed", "InProgress", "NotStarted")
    emulator.clock.advance(JOB_SECONDS * 0.5)
    assert phases() == ("Completed", "Completed", "InProgress")
    emulator.clock.advance(JOB_SECONDS)
    assert phases() == ("Completed", "Completed", "Completed")


def test_a_job_from_invocation_logs_counts_only_records_matching_the_filters(
    bedrock: Any, runtime: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given invocation logging to the bucket and teacher calls from two projects
    bedrock.put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": BUCKET, "keyPrefix": "logs"}, "textDataDeliveryEnabled": True}
    )
    for index, project in enumerate(["alpha", "alpha", "alpha", "beta"]):
        runtime.converse(
            modelId="amazon.nova-pro-v1:0",
            messages=[{"role": "user", "content": [{"text": f"Prompt {index}"}]}],
            requestMetadata={"project": project},
        )
    # When a job distils only project alpha's calls
    request = distillation_request(invocation_logs_source({"equals": {"project": "alpha"}}))
    bedrock.create_model_customization_job(**request)
    # Then it trains on exactly those three records and completes
    emulator.clock.advance(JOB_SECONDS)
    job = emulator.jobs["distill-job-1"]
    assert job.training_records == 3
    assert job.status == "Completed"


@pytest.mark.parametrize(
    ("selection", "expected_records"),
    [
        pytest.param({}, 4, id="no filter"),
        pytest.param({"requestMetadataFilters": {"notEquals": {"project": "alpha"}}}, 1, id="notEquals"),
        pytest.param(
            {"requestMetadataFilters": {"andAll": [{"equals": {"project": "alpha"}}, {"notEquals": {"stage": "dev"}}]}},
            2,
            id="andAll",
        ),
        pytest.param(
            {"requestMetadataFilters": {"orAll": [{"equals": {"stage": "dev"}}, {"equals": {"project": "beta"}}]}},
            2,
            id="orAll",
        ),
    ],
)
def test_request_metadata_filters_select_log_records_as_bedrock_does(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator, selection: dict[str, Any], expected_records: int
) -> None:
    # Given four logged teacher calls tagged by project and stage
    bedrock.put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": BUCKET, "keyPrefix": "logs"}, "textDataDeliveryEnabled": True}
    )
    tagged = [("alpha", "dev"), ("alpha", "prod"), ("alpha", "prod"), ("beta", "prod")]
    for index, (project, stage) in enumerate(tagged):
        runtime.converse(
            modelId="amazon.nova-pro-v1:0",
            messages=[{"role": "user", "content": [{"text": f"Prompt {index}"}]}],
            requestMetadata={"project": project, "stage": stage},
        )
    # When a job reads them through the selection
    source = invocation_logs_source()
    source["invocationLogsConfig"].update(selection)
    bedrock.create_model_customization_job(**distillation_request(source))
    # Then it trains on the matching records only
    assert emulator.jobs["distill-job-1"].training_records == expected_records


@pytest.mark.parametrize(("use_prompt_response", "expected_records"), [(False, 2), (True, 1)])
def test_use_prompt_response_needs_records_with_an_answer(
    bedrock: Any, s3: Any, emulator: BedrockEmulator, use_prompt_response: bool, expected_records: int
) -> None:
    # Given a pretty-printed record with an answer, and a JSON-lines record of a call that failed
    answered = {
        "operation": "Converse",
        "requestMetadata": {},
        "output": {"outputBodyJson": {"stopReason": "end_turn"}},
    }
    failed = {"operation": "Converse", "requestMetadata": {}, "errorCode": "ThrottlingException"}
    for name, text in (("answered", json.dumps(answered, indent=2)), ("failed", json.dumps(failed) + "\n")):
        s3.put_object(Bucket=BUCKET, Key=f"logs/AWSLogs/{name}.json.gz", Body=gzip.compress(text.encode()))
    # When a job reads them with or without usePromptResponse
    source = invocation_logs_source()
    source["invocationLogsConfig"]["usePromptResponse"] = use_prompt_response
    bedrock.create_model_customization_job(**distillation_request(source))
    # Then only answered records count when the teacher's answers are to be reused
    assert emulator.jobs["distill-job-1"].training_records == expected_records


def test_invocation_logs_matching_no_filter_fail_the_job(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given no invocation logs at all
    # When a job reads them
    job_arn = bedrock.create_model_customization_job(
        **distillation_request(invocation_logs_source({"notEquals": {"project": "beta"}}))
    )["jobArn"]
    emulator.clock.advance(JOB_SECONDS)
    # Then the job fails during validation, as Bedrock would
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Failed"
    assert "No valid training records" in job["failureMessage"]
    assert job["statusDetails"]["validationDetails"]["status"] == "Failed"
    assert job["statusDetails"]["trainingDetails"]["status"] == "NotStarted"


def test_a_missing_training_object_fails_the_job_with_a_message(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a training URI with nothing behind it
    request = distillation_request({"s3Uri": f"s3://{BUCKET}/train/missing.jsonl"})
    # When the job is created, Then it is accepted, and fails once validation reads the data
    job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress"
    emulator.clock.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Failed"
    assert "missing.jsonl" in job["failureMessage"]
    assert "outputModelArn" not in job
    assert bedrock.list_custom_models()["modelSummaries"] == []


def test_the_same_client_request_token_returns_the_same_job(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given a job created once
    request = distillation_request({"s3Uri": upload_prompts(s3, 10)})
    first = bedrock.create_model_customization_job(**request)["jobArn"]
    # When a retried Lambda sends the same request with the same token
    second = bedrock.create_model_customization_job(**request)["jobArn"]
    # Then it gets the same job back and no second job exists
    assert second == first
    assert len(bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 1


def test_a_reused_job_name_with_another_token_is_a_conflict(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given a job
    request = distillation_request({"s3Uri": upload_prompts(s3, 10)})
    bedrock.create_model_customization_job(**request)
    # When another request reuses its name with a different token
    with pytest.raises(bedrock.exceptions.ConflictException) as raised:
        bedrock.create_model_customization_job(**request | {"clientRequestToken": "execution-2-create-job"})
    # Then Bedrock's ConflictException says so
    assert "distill-job-1" in raised.value.response["Error"]["Message"]
    assert emulator.call_count("CreateModelCustomizationJob") == 2
    assert len(emulator.jobs) == 1


def test_a_reused_token_with_different_parameters_is_a_conflict(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    request = distillation_request({"s3Uri": upload_prompts(s3, 10)})
    bedrock.create_model_customization_job(**request)
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.create_model_customization_job(**request | {"jobName": "distill-job-2"})


def test_boto3_fills_a_token_when_omitted_so_each_call_creates_a_job(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a request without clientRequestToken, as a naive Lambda sends it
    request = distillation_request({"s3Uri": upload_prompts(s3, 10)})
    del request["clientRequestToken"]
    # When it is sent twice with different names
    bedrock.create_model_customization_job(**request)
    bedrock.create_model_customization_job(**request | {"jobName": "distill-job-2"})
    # Then each got its own random token, as with the real SDK
    tokens = {job.request["clientRequestToken"] for job in emulator.jobs.values()}
    assert len(tokens) == 2


def test_stop_goes_through_stopping_to_stopped(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given a running job in training
    job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
        "jobArn"
    ]
    emulator.clock.advance(JOB_SECONDS * 0.5)
    # When it is stopped
    bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    # Then it is Stopping, then Stopped, without a model
    stopping = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert stopping["status"] == "Stopping"
    assert stopping["statusDetails"]["trainingDetails"]["status"] == "Stopping"
    emulator.clock.advance(JOB_SECONDS)
    stopped = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert stopped["status"] == "Stopped"
    assert stopped["statusDetails"]["trainingDetails"]["status"] == "Stopped"
    assert "outputModelArn" not in stopped
    # And a finished job cannot be stopped again
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.stop_model_customization_job(jobIdentifier=job_arn)


def test_an_injected_job_failure_ends_failed_with_the_message(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    emulator.faults.fail_job(message="Teacher model capacity exhausted", job_name="distill-job-2")
    training = {"s3Uri": upload_prompts(s3, 10)}
    bedrock.create_model_customization_job(**distillation_request(training))
    bedrock.create_model_customization_job(
        **distillation_request(training, jobName="distill-job-2", clientRequestToken="token-2")
    )
    emulator.clock.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier="distill-job-2")
    assert job["status"] == "Failed"
    assert job["failureMessage"] == "Teacher model capacity exhausted"
    assert job["statusDetails"]["trainingDetails"]["status"] == "Failed"
    assert emulator.jobs["distill-job-1"].status == "Completed"


def test_an_injected_stop_ends_the_next_job_stopped(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    emulator.faults.stop_job()
    job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
        "jobArn"
    ]
    emulator.clock.advance(JOB_SECONDS)
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Stopped"
    assert emulator.custom_models == {}


def test_each_status_read_can_advance_the_clock_so_a_poller_finishes(s3: Any) -> None:
    # Given an emulator where every status read is an hour of logical time
    with BedrockEmulator(job_seconds=7 * 24 * 3600, seconds_per_status_read=3600) as emulator:
        bedrock = client("bedrock")
        job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
            "jobArn"
        ]
        # When a poller reads until the job finishes
        polls = 1
        while bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress":
            polls += 1
        # Then the 7-day job completed after a week of logical time
        assert polls == 7 * 24
        assert emulator.clock.elapsed_seconds == polls * 3600


def test_list_filters_sorts_and_pages(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    training = {"s3Uri": upload_prompts(s3, 10)}
    for index in range(3):
        bedrock.create_model_customization_job(
            **distillation_request(training, jobName=f"nightly-{index}", clientRequestToken=f"token-{index}")
        )
        emulator.clock.advance(60)
    bedrock.stop_model_customization_job(jobIdentifier="nightly-1")

    first = bedrock.list_model_customization_jobs(maxResults=2, sortOrder="Ascending")
    second = bedrock.list_model_customization_jobs(maxResults=2, sortOrder="Ascending", nextToken=first["nextToken"])
    names = [s["jobName"] for s in first["modelCustomizationJobSummaries"] + second["modelCustomizationJobSummaries"]]
    assert names == ["nightly-0", "nightly-1", "nightly-2"]
    assert "nextToken" not in second
    stopping = bedrock.list_model_customization_jobs(statusEquals="Stopping")["modelCustomizationJobSummaries"]
    assert [s["jobName"] for s in stopping] == ["nightly-1"]
    newest_first = bedrock.list_model_customization_jobs(nameContains="NIGHTLY")["modelCustomizationJobSummaries"]
    assert [s["jobName"] for s in newest_first] == ["nightly-2", "nightly-1", "nightly-0"]


def test_tags_on_the_job_and_its_model_are_kept(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    request = distillation_request(
        {"s3Uri": upload_prompts(s3, 10)},
        jobTags=[{"key": "execution", "value": "exec-1"}],
        customModelTags=[{"key": "owner", "value": "pipeline"}],
    )
    job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    bedrock.tag_resource(resourceARN=job_arn, tags=[{"key": "stage", "value": "train"}])
    bedrock.untag_resource(resourceARN=job_arn, tagKeys=["execution"])
    assert bedrock.list_tags_for_resource(resourceARN=job_arn)["tags"] == [{"key": "stage", "value": "train"}]
    emulator.clock.advance(JOB_SECONDS)
    model_arn = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
    assert bedrock.list_tags_for_resource(resourceARN=model_arn)["tags"] == [{"key": "owner", "value": "pipeline"}]


def test_unreadable_output_location_fails_the_job_instead_of_crashing(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    request = distillation_request(
        {"s3Uri": upload_prompts(s3, 10)}, outputDataConfig={"s3Uri": "s3://no-such-output-bucket/out/"}
    )
    job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    emulator.clock.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Failed"
    assert "no-such-output-bucket" in job["failureMessage"]
    assert keys_under(s3, "output/") == []


def test_invalid_lines_are_dropped_before_counting(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    good = upload_prompts(s3, 5, key="train/good.jsonl")
    body = s3.get_object(Bucket=BUCKET, Key="train/good.jsonl")["Body"].read().decode()
    typo = json.dumps({"schemaVersion": "bedrock-conversion-2024", "messages": [{"role": "user"}]})
    s3.put_object(Bucket=BUCKET, Key="train/mixed.jsonl", Body=f"{body}\nnot json\n{typo}\n".encode())
    bedrock.create_model_customization_job(**distillation_request({"s3Uri": good.replace("good", "mixed")}))
    assert emulator.jobs["distill-job-1"].training_records == 5


def test_jobs_past_the_customization_jobs_quota_are_refused_until_one_ends(s3: Any) -> None:
    # Given an account allowed two customization jobs at a time, with two running
    training = {"s3Uri": upload_prompts(s3, 10)}
    with BedrockEmulator(job_seconds=JOB_SECONDS, stopping_seconds=60, customization_jobs=2) as emulator:
        bedrock = client("bedrock")
        for index in (1, 2):
            bedrock.create_model_customization_job(
                **distillation_request(training, jobName=f"job-{index}", clientRequestToken=f"token-{index}")
            )
        # When a third is created, Then Bedrock refuses it, naming the quota and what to do
        third = distillation_request(training, jobName="job-3", clientRequestToken="token-3")
        with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException) as raised:
            bedrock.create_model_customization_job(**third)
        message = raised.value.response["Error"]["Message"]
        assert f"'{CUSTOMIZATION_JOBS_QUOTA}' (2)" in message
        assert "request an increase" in message
        # And a retry of a job already accepted is still answered (it takes no new slot)
        bedrock.create_model_customization_job(
            **distillation_request(training, jobName="job-1", clientRequestToken="token-1")
        )
        # And a stopping job holds its slot until it has stopped
        bedrock.stop_model_customization_job(jobIdentifier="job-1")
        with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException):
            bedrock.create_model_customization_job(**third)
        emulator.advance(60)
        assert bedrock.get_model_customization_job(jobIdentifier="job-1")["status"] == "Stopped"
        bedrock.create_model_customization_job(**third)
