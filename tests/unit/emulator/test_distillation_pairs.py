"""CreateModelCustomizationJob refuses, as Bedrock does, a distillation pair outside its Region or given wrongly."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bedrock_distill.catalog import offered_pairs
from offline.bedrock_emulator import BedrockEmulator
from tests.unit.emulator.builders import REGION, distillation_request, upload_prompts

pytestmark = pytest.mark.unit

NOVA_LITE = "amazon.nova-lite-v1:0:300k"
LLAMA_TEACHER, LLAMA_STUDENT = "meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0:128k"


def _bedrock(region: str) -> Any:
    return boto3.session.Session(region_name=region).client("bedrock")


def _request(s3: Any, teacher: str, student: str, name: str = "distill-job-1") -> dict[str, Any]:
    request = distillation_request({"s3Uri": upload_prompts(s3, 120)}, jobName=name, baseModelIdentifier=student)
    request.pop("clientRequestToken")
    request["customizationConfig"]["distillationConfig"]["teacherModelConfig"]["teacherModelIdentifier"] = teacher
    return request


def _refusal(bedrock: Any, request: dict[str, Any]) -> str:
    with pytest.raises(ClientError) as raised:
        bedrock.create_model_customization_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    return str(raised.value.response["Error"]["Message"])


def test_every_documented_pair_is_created_in_its_region_only(s3: Any, emulator: BedrockEmulator) -> None:
    assert REGION == "us-east-1"
    clients = {region: _bedrock(region) for region in ("us-east-1", "us-west-2")}
    for region, bedrock in clients.items():
        elsewhere = next(r for r in clients if r != region)
        for index, pair in enumerate(offered_pairs(region)):
            # Given a pair the user guide offers in this Region: the job is created here
            created = bedrock.create_model_customization_job(
                **_request(s3, pair.teacher, pair.student, name=f"{region}-{index}")
            )
            assert f":{region}:" in created["jobArn"]
            # When the same request reaches the other Region, it is refused there, naming that Region
            message = _refusal(clients[elsewhere], _request(s3, pair.teacher, pair.student, name=f"x-{index}"))
            assert message.endswith(f"is not supported in {elsewhere}."), message
    assert set(emulator.jobs) == {f"{r}-{i}" for r in clients for i in range(len(offered_pairs(r)))}


@pytest.mark.parametrize(
    ("teacher", "student", "expected"),
    [
        (
            "amazon.nova-premier-v1:0",
            NOVA_LITE,
            "specify Amazon Nova Premier as us.amazon.nova-premier-v1:0.",
        ),
        ("amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "specify the model with its context length, " + NOVA_LITE),
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0:300k", "is not supported."),
    ],
)
def test_a_teacher_in_the_wrong_form_or_a_student_without_its_suffix_is_refused(
    s3: Any, emulator: BedrockEmulator, teacher: str, student: str, expected: str
) -> None:
    # When the request names the models in a way Bedrock does not take
    message = _refusal(_bedrock(REGION), _request(s3, teacher, student))
    # Then it is a ValidationException saying what to give instead, and no job exists
    assert expected in message, message
    assert emulator.jobs == {}


def test_models_may_be_given_as_arns(s3: Any, emulator: BedrockEmulator) -> None:
    teacher = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0"
    student = f"arn:aws:bedrock:us-west-2::foundation-model/{LLAMA_STUDENT}"
    assert _bedrock("us-west-2").create_model_customization_job(**_request(s3, teacher, student))["jobArn"]
    message = _refusal(
        _bedrock("us-west-2"),
        _request(
            s3,
            f"arn:aws:bedrock:us-west-2::foundation-model/{LLAMA_TEACHER}",
            "amazon.titan-text-express-v1:0:8k",
            name="j2",
        ),
    )
    assert message == "The base model identifier amazon.titan-text-express-v1:0:8k is not supported for distillation."
