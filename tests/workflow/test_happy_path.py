"""Runs that succeed: from S3 prompts and from invocation logs, through validation on a PT that is deleted, to the
scorecard."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import (
    TEACHER,
    conversation_record,
    entered_states,
    prompts_input,
    published_outcomes,
    run_to_end,
    upload_prompts,
)
from tests.workflow.scorecards import assert_traceable_to_the_output_files

pytestmark = pytest.mark.workflow


def _s3_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _s3_lines(uri: str) -> list[bytes]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.splitlines()


def test_distillation_from_s3_prompts_validates_on_a_pt_deletes_it_before_the_judge_and_scores_the_student(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given 120 valid prompts with golden answers in the input bucket
    execution_input = prompts_input(pipeline)
    # When a run is started with nothing but the training data
    result = run_to_end(pipeline, execution_input, "from-prompts")
    # Then it succeeds
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    # And Bedrock got one distillation job: the configured student, the teacher, the run's tags
    (job,) = emulator.jobs.values()
    request = job.request
    assert request["customizationType"] == "DISTILLATION"
    assert request["baseModelIdentifier"] == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert (
        request["customizationConfig"]["distillationConfig"]["teacherModelConfig"]["teacherModelIdentifier"] == TEACHER
    )
    # (trained on what Preflight left after holding out the validation prompts: no validationPrompts given)
    assert request["trainingDataConfig"] == {"s3Uri": output["run"]["trainingDataConfig"]["s3Uri"]}
    assert output["run"]["trainingSourceUri"] == execution_input["trainingData"]["prompts"]
    assert {"key": "bedrock-distill:execution-arn", "value": result["executionArn"]} in request["jobTags"]
    # And one PT was bought without commitment, on the custom model, and is gone
    (throughput,) = emulator.provisioned_throughputs.values()
    assert throughput.model_arn == output["job"]["outputModelArn"]
    assert throughput.commitment_duration is None
    assert output["deletion"]["deleted"] is True
    # (Llama 3.1 8B is no base model AWS deploys on demand: the run chose PT, and made no deployment)
    assert output["run"]["servingMode"] == "provisioned"
    assert output["serving"]["student"]["modelArn"] == throughput.arn
    assert emulator.model_deployments == {}
    # And the PT was deleted before the judge ran: by the execution's history and by the order of Bedrock's calls
    states = entered_states(pipeline, result["executionArn"])
    assert states.index("DeleteProvisionedThroughput") < states.index("CreateEvaluationJobs")
    operations = [call.operation for call in emulator.calls]
    assert operations.index("DeleteProvisionedModelThroughput") < operations.index("CreateEvaluationJob")
    # And both sides were judged, and the scorecard's numbers are those of the evaluation jobs' output files
    assert len(emulator.evaluation_jobs) == 2
    assert assert_traceable_to_the_output_files(output)["servingMode"] == "provisioned"
    # And the validation report holds a result per held-out prompt, with latency and chrF similarity
    validation = _s3_json(output["serving"]["validation"]["reportUri"])
    assert validation["summary"]["prompts"] == 5
    assert all(
        r["output"] and r["latency_ms"] is not None and r["similarity"] is not None for r in validation["results"]
    )
    # And the training metrics were collected from the job's CSVs
    metrics = _s3_json(output["metrics"]["reportUri"])
    assert metrics["training_steps"]
    assert metrics["final_training_loss"] == output["metrics"]["finalTrainingLoss"]
    # And one outcome was published, with the model, the validation summary and a cost estimate
    (outcome,) = published_outcomes(outcomes)
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["custom_model_arn"] == output["job"]["outputModelArn"]
    assert outcome["validation"]["prompts"] == 5
    assert outcome["estimated_provisioned_throughput_cost_usd"] >= 20.0


def test_distillation_from_invocation_logs_with_a_metadata_filter(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given invocation logging to the pipeline's bucket, and teacher answers logged with request metadata
    bedrock = boto3.client("bedrock")
    bedrock.put_model_invocation_logging_configuration(
        loggingConfig={
            "s3Config": {
                "bucketName": pipeline.names.invocation_log_bucket,
                "keyPrefix": pipeline.names.invocation_log_prefix,
            },
            "textDataDeliveryEnabled": True,
        }
    )
    runtime = boto3.client("bedrock-runtime")
    for index in range(130):
        record = conversation_record(index, answer=False)
        runtime.converse(
            modelId=TEACHER,
            messages=record["messages"],
            requestMetadata={"project": "tickets" if index < 110 else "other"},
        )
    validation = upload_prompts(
        pipeline.names.input_bucket, "datasets/held-out.jsonl", [conversation_record(1000 + i) for i in range(3)]
    )
    metadata_filter = {"equals": {"project": "tickets"}}
    # When a run distils from those logs through the filter
    result = run_to_end(
        pipeline,
        {
            "trainingData": {"invocationLogs": {"requestMetadataFilters": metadata_filter, "usePromptResponse": True}},
            "validationPrompts": validation,
        },
        "from-logs",
    )
    # Then it succeeds, and the job read the logs through exactly that filter, with the teacher's answers
    assert result["status"] == "SUCCEEDED", result
    (job,) = emulator.jobs.values()
    logs_config = job.request["trainingDataConfig"]["invocationLogsConfig"]
    assert logs_config["requestMetadataFilters"] == metadata_filter
    assert logs_config["usePromptResponse"] is True
    assert pipeline.settings is not None
    assert logs_config["invocationLogSource"]["s3Uri"] == pipeline.settings.invocation_log_source
    assert job.training_records == 110


def test_without_validation_prompts_the_model_is_validated_on_prompts_it_did_not_train_on(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given 130 valid prompts with golden answers, and a run that gives no validationPrompts
    dataset = [conversation_record(index) for index in range(130)]
    uri = upload_prompts(pipeline.names.input_bucket, "datasets/tickets.jsonl", dataset)
    # When it runs, asking for 10 validation prompts
    result = run_to_end(pipeline, {"trainingData": {"prompts": uri}, "validationSampleSize": 10}, "held-out")
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    run = output["run"]
    # Then Bedrock trained on the remainder Preflight wrote under the run's prefix, not on the uploaded file
    (job,) = emulator.jobs.values()
    remainder_uri = job.request["trainingDataConfig"]["s3Uri"]
    assert remainder_uri == f"s3://{pipeline.names.output_bucket}/jobs/held-out/data/training.jsonl"
    assert run["validationPromptsSource"] == "held-out"
    trained = [json.loads(line) for line in _s3_lines(remainder_uri)]
    held_out = [json.loads(line) for line in _s3_lines(run["validationPrompts"])]
    assert job.training_records == len(trained) == 120
    # And no held-out prompt is in what it trained on, and no record was dropped or added
    assert len(held_out) == 10
    assert not {json.dumps(record) for record in held_out} & {json.dumps(record) for record in trained}
    assert sorted(map(json.dumps, trained + held_out)) == sorted(map(json.dumps, dataset))
    # And validation ran on exactly the held-out prompts, in their order, against their golden answers
    validation = _s3_json(output["serving"]["validation"]["reportUri"])
    assert [r["prompt"] for r in validation["results"]] == [r["messages"][0]["content"][0]["text"] for r in held_out]
    assert [r["reference"] for r in validation["results"]] == [r["messages"][1]["content"][0]["text"] for r in held_out]
    # And validation.json, the state output and the outcome say where the prompts came from
    assert validation["validationPrompts"]["source"] == "held-out"
    assert validation["validationPrompts"]["uri"] == run["validationPrompts"]
    assert validation["validationPrompts"]["description"].startswith(f"held out: 10 of the 130 records of {uri}")
    assert output["serving"]["validation"]["validationPromptsSource"] == "held-out"
    (outcome,) = published_outcomes(outcomes)
    assert outcome["validation"]["validationPromptsSource"] == "held-out"
    assert "held out: 10 of the 130 records" in outcome["validation"]["validationPrompts"]
    # And preflight.json holds the counts
    preflight = _s3_json(run["preflightReportUri"])
    assert preflight["heldOut"]["datasetRecords"] == preflight["trainingData"]["valid"] == 130
    assert (preflight["heldOut"]["trainingRecords"], preflight["heldOut"]["heldOutRecords"]) == (120, 10)


def test_given_validation_prompts_train_on_the_whole_dataset_and_say_so(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given 110 prompts (too few to hold 20 out of) and separate validation prompts
    uri = upload_prompts(
        pipeline.names.input_bucket, "datasets/tickets.jsonl", [conversation_record(i) for i in range(110)]
    )
    validation_uri = upload_prompts(
        pipeline.names.input_bucket, "datasets/held-out.jsonl", [conversation_record(1000 + i) for i in range(3)]
    )
    # When a run gives both
    result = run_to_end(pipeline, {"trainingData": {"prompts": uri}, "validationPrompts": validation_uri}, "given")
    # Then the job trains on the whole file and validation runs on the given prompts
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    (job,) = emulator.jobs.values()
    assert job.request["trainingDataConfig"] == {"s3Uri": uri}
    assert job.training_records == 110
    validation = _s3_json(output["serving"]["validation"]["reportUri"])
    assert validation["validationPrompts"] == {
        "source": "given",
        "uri": validation_uri,
        "description": f"given: {validation_uri}",
    }
    assert [r["prompt"] for r in validation["results"]] == [
        conversation_record(1000 + i)["messages"][0]["content"][0]["text"] for i in range(3)
    ]
