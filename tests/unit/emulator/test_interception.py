"""How calls reach the emulator: real clients, botocore's parsing, modeled exceptions, loud gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from offline.bedrock_emulator import BedrockEmulator, UnsupportedOperationError, bedrock_emulator
from tests.unit.emulator.builders import JOB_SECONDS, REGION, distillation_request, upload_prompts

pytestmark = pytest.mark.unit


def _assert_matches_output_shape(client: Any, operation: str, response: dict[str, Any]) -> None:
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()


def test_responses_are_parsed_by_botocore_and_match_the_output_shapes(
    bedrock: Any, runtime: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a completed job, a provisioned model and a logging configuration
    job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
        "jobArn"
    ]
    emulator.clock.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    pt_arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt", modelId=job["outputModelArn"], commitmentDuration="OneMonth"
    )["provisionedModelArn"]
    bedrock.put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": "distill-data"}, "textDataDeliveryEnabled": True}
    )
    # When every read operation answers
    responses = {
        "GetModelCustomizationJob": job,
        "ListModelCustomizationJobs": bedrock.list_model_customization_jobs(),
        "GetCustomModel": bedrock.get_custom_model(modelIdentifier=job["outputModelArn"]),
        "ListCustomModels": bedrock.list_custom_models(),
        "GetProvisionedModelThroughput": bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn),
        "ListProvisionedModelThroughputs": bedrock.list_provisioned_model_throughputs(),
        "GetModelInvocationLoggingConfiguration": bedrock.get_model_invocation_logging_configuration(),
        "ListTagsForResource": bedrock.list_tags_for_resource(resourceARN=pt_arn),
    }
    # Then each went through botocore's parser (timestamps are datetimes) and fits its output shape
    assert isinstance(job["creationTime"], datetime)
    assert job["creationTime"].tzinfo is not None
    assert responses["GetProvisionedModelThroughput"]["ResponseMetadata"]["HTTPStatusCode"] == 200
    for operation, response in responses.items():
        _assert_matches_output_shape(bedrock, operation, response)
    _assert_matches_output_shape(
        runtime,
        "Converse",
        runtime.converse(modelId="amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}]),
    )


def test_errors_are_client_errors_with_code_status_and_modeled_class(bedrock: Any) -> None:
    with pytest.raises(ClientError) as raised:
        bedrock.get_model_customization_job(jobIdentifier="no-such-job")
    assert isinstance(raised.value, bedrock.exceptions.ResourceNotFoundException)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert raised.value.operation_name == "GetModelCustomizationJob"


def test_clients_created_before_the_emulator_starts_are_answered_once_it_does(s3: Any) -> None:
    # Given a client created while no emulator runs, as a Lambda module creates it at import
    bedrock = boto3.client("bedrock", region_name=REGION)
    # When an emulator starts, Then that client's calls reach it
    with bedrock_emulator() as emulator:
        bedrock.get_model_invocation_logging_configuration()
    assert emulator.call_count("GetModelInvocationLoggingConfiguration") == 1
    # And after it stops, calls pass through to whatever else answers (moto here)
    bedrock.get_model_invocation_logging_configuration()
    assert emulator.call_count("GetModelInvocationLoggingConfiguration") == 1


def test_only_one_emulator_is_active_at_a_time(emulator: BedrockEmulator) -> None:
    with pytest.raises(RuntimeError, match="already active"), BedrockEmulator():
        pass


def test_an_unsupported_operation_fails_loudly(bedrock: Any, runtime: Any) -> None:
    with pytest.raises(UnsupportedOperationError, match="bedrock:ListImportedModels"):
        bedrock.list_imported_models()
    with pytest.raises(UnsupportedOperationError, match="bedrock-runtime:InvokeModel"):
        runtime.invoke_model(modelId="amazon.nova-pro-v1:0", body=b"{}")


def test_calls_are_recorded_with_their_parameters(bedrock: Any, emulator: BedrockEmulator) -> None:
    bedrock.list_provisioned_model_throughputs(nameContains="exec-1")
    [call] = emulator.calls
    assert (call.operation, call.params, call.region) == (
        "ListProvisionedModelThroughputs",
        {"nameContains": "exec-1"},
        REGION,
    )


def test_the_service_validates_even_when_the_client_does_not(emulator: BedrockEmulator) -> None:
    # Given a client with botocore's own validation off
    lax = boto3.client("bedrock", region_name=REGION, config=Config(parameter_validation=False))
    # When it sends a request the model rejects (required member missing)
    with pytest.raises(lax.exceptions.ValidationException) as raised:
        lax.create_provisioned_model_throughput(provisionedModelName="pt", modelId="amazon.nova-lite-v1:0")
    # Then the emulated service answers ValidationException naming the member
    assert "modelUnits" in raised.value.response["Error"]["Message"]
    assert emulator.live_provisioned_throughputs() == []
