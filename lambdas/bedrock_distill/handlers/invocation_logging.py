"""Custom resource (CDK Provider framework on-event handler) for the account's invocation logging."""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.invocation_logging import (
    InvocationLoggingManager,
    OurLogging,
    PreviousConfigurationStore,
)

# Logging is one setting per account and Region: a stable id keeps updates from replacing the resource.
PHYSICAL_RESOURCE_ID = "bedrock-model-invocation-logging"

logger = Logger()
tracer = Tracer()


@cache
def _manager() -> InvocationLoggingManager:
    return InvocationLoggingManager(
        BedrockGateway(), PreviousConfigurationStore(os.environ["PREVIOUS_CONFIGURATION_PARAMETER"])
    )


class LoggingProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket_name: str = Field(alias="BucketName", min_length=3)
    key_prefix: str = Field(alias="KeyPrefix", min_length=1)
    # The existing CloudWatch delivery role the stack may pass to keep that delivery; absent: none.
    cloud_watch_role_arn: str | None = Field(default=None, alias="CloudWatchRoleArn", min_length=1)


class CustomResourceEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    properties: LoggingProperties = Field(alias="ResourceProperties")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=CustomResourceEvent)
    properties = request.properties
    ours = OurLogging(properties.bucket_name, properties.key_prefix, properties.cloud_watch_role_arn)
    logger.info("invocation logging", request_type=request.request_type, ours=ours)
    if problem := _manager().handle(request.request_type, ours):
        logger.error(problem)
    return {
        "PhysicalResourceId": PHYSICAL_RESOURCE_ID,
        "Data": {"BucketName": ours.bucket_name, "KeyPrefix": ours.key_prefix},
    }
