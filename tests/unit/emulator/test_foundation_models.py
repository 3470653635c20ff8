"""ListFoundationModels, GetFoundationModel and GetFoundationModelAvailability: the distillation table's models in
the Region, read-only, with model access as the emulator is told (what `distill doctor` reads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from offline.bedrock_emulator import bedrock_emulator

pytestmark = pytest.mark.unit

STUDENT = "amazon.nova-lite-v1:0:300k"
TEACHER = "amazon.nova-pro-v1:0"


@pytest.fixture
def bedrock() -> Iterator[Any]:
    with mock_aws(), bedrock_emulator(models_without_access=[STUDENT]):
        yield boto3.session.Session(region_name="us-east-1").client("bedrock")


def test_distillation_listing_holds_the_regions_students_with_their_context_length(bedrock: Any) -> None:
    # When the models customizable by distillation in us-east-1 are listed
    summaries = bedrock.list_foundation_models(byCustomizationType="DISTILLATION")["modelSummaries"]
    # Then the table's students there are listed, and its teachers (not customizable) are not
    listed = {summary["modelId"] for summary in summaries}
    assert STUDENT in listed
    assert TEACHER not in listed
    assert all("DISTILLATION" in summary["customizationsSupported"] for summary in summaries)


def test_a_model_not_offered_in_the_region_is_not_found(bedrock: Any) -> None:
    us_west_2 = boto3.session.Session(region_name="us-west-2").client("bedrock")
    # When a Nova model, offered for distillation only in us-east-1, is read in us-west-2
    with pytest.raises(ClientError) as raised:
        us_west_2.get_foundation_model(modelIdentifier=TEACHER)
    # Then Bedrock answers ResourceNotFoundException, while us-east-1 has it
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert bedrock.get_foundation_model(modelIdentifier=TEACHER)["modelDetails"]["modelId"] == TEACHER


def test_availability_reports_the_models_without_access(bedrock: Any) -> None:
    # When the access to the teacher and to the student (no access granted) is asked for
    teacher = bedrock.get_foundation_model_availability(modelId=TEACHER)
    student = bedrock.get_foundation_model_availability(modelId=STUDENT)
    # Then the teacher is authorized and the student is not
    assert (teacher["authorizationStatus"], teacher["entitlementAvailability"]) == ("AUTHORIZED", "AVAILABLE")
    assert (student["authorizationStatus"], student["entitlementAvailability"]) == ("NOT_AUTHORIZED", "NOT_AVAILABLE")
