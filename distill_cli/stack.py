"""The deployed stack, found by name: its outputs say where everything the commands need lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bedrock_distill import project
from bedrock_distill.gateways.calls import aws_call
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.run import run_folder
from distill_cli.errors import OperatorError

SERVICE: Final = "cloudformation"

STATE_MACHINE_ARN: Final = project.STATE_MACHINE_ARN_OUTPUT
INPUT_LOCATION: Final = project.INPUT_LOCATION_OUTPUT
UPLOAD_LOCATION: Final = project.UPLOAD_LOCATION_OUTPUT
OUTPUT_LOCATION: Final = project.OUTPUT_LOCATION_OUTPUT
OUTCOME_TOPIC_ARN: Final = project.OUTCOME_TOPIC_ARN_OUTPUT
INVOCATION_LOG_SOURCE: Final = project.INVOCATION_LOG_SOURCE_OUTPUT
TEACHER_MODEL_ID: Final = project.TEACHER_MODEL_ID_OUTPUT
STUDENT_MODEL_ID: Final = project.STUDENT_MODEL_ID_OUTPUT
DISTILLATION_SERVICE_ROLE_ARN: Final = project.DISTILLATION_SERVICE_ROLE_ARN_OUTPUT


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    status: str
    outputs: Mapping[str, str]

    def output(self, key: str) -> str:
        """The output's value; a missing one means an older or broken deployment, named so it can be fixed."""
        value = self.outputs.get(key)
        if not value:
            present = ", ".join(sorted(self.outputs)) or "none"
            raise OperatorError(
                f"stack {self.name} in {self.region} has no output {key} (its outputs: {present}); "
                "redeploy the current version with `cdk deploy`"
            )
        return value

    @property
    def state_machine_arn(self) -> str:
        return self.output(STATE_MACHINE_ARN)

    @property
    def input_location(self) -> str:
        return _as_prefix(self.output(INPUT_LOCATION))

    @property
    def output_location(self) -> str:
        return _as_prefix(self.output(OUTPUT_LOCATION))

    @property
    def invocation_log_source(self) -> str:
        return self.output(INVOCATION_LOG_SOURCE)

    @property
    def teacher_model_id(self) -> str:
        return self.output(TEACHER_MODEL_ID)

    @property
    def student_model_id(self) -> str:
        return self.output(STUDENT_MODEL_ID)

    def run_prefix(self, execution_name: str) -> str:
        """Where a run writes: the job's output, and its reports under ``report/``."""
        return f"{self.output_location}{run_folder(execution_name)}/"


class StackNotFoundError(OperatorError):
    """DescribeStacks: no stack of that name in the Region."""


class StackGateway:
    """AWS CloudFormation, as only the CLI needs it: the deployed stack's outputs."""

    def __init__(self, cloudformation: LazyClient) -> None:
        self._cloudformation = cloudformation

    def find(self, stack_name: str) -> Stack:
        client = aws_call(SERVICE, "client", lambda: self._cloudformation.client)
        region = str(client.meta.region_name)
        try:
            response = aws_call(
                SERVICE, f"stack {stack_name} in {region}", lambda: client.describe_stacks(StackName=stack_name)
            )
        except WorkflowError as error:
            if error.code == "ValidationError" and "does not exist" in str(error):
                raise StackNotFoundError(
                    f"stack {stack_name} not found in {region}: deploy it (`cdk deploy`), "
                    "or pass --stack-name / --region / --profile"
                ) from error
            raise
        (description,) = response["Stacks"]
        outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in description.get("Outputs", [])}
        return Stack(name=stack_name, region=region, status=description.get("StackStatus", ""), outputs=outputs)


def _as_prefix(uri: str) -> str:
    return uri if uri.endswith("/") else f"{uri}/"
