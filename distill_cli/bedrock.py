"""What the operator reads from Bedrock about a run: its job and its Provisioned Throughput, by name."""

from __future__ import annotations

from typing import Any

from bedrock_distill.aws import LazyClient
from bedrock_distill.workflow.errors import error_code
from distill_cli.errors import aws_errors


class BedrockReader:
    def __init__(self, bedrock: LazyClient) -> None:
        self._bedrock = bedrock

    def job(self, job_name: str) -> dict[str, Any] | None:
        """GetModelCustomizationJob by the name the run chose; None when no such job exists (yet)."""
        return self._get("GetModelCustomizationJob", "get_model_customization_job", jobIdentifier=job_name)

    def provisioned_throughput(self, provisioned_model_name: str) -> dict[str, Any] | None:
        """GetProvisionedModelThroughput by name; None when none exists (never created, or deleted)."""
        return self._get(
            "GetProvisionedModelThroughput",
            "get_provisioned_model_throughput",
            provisionedModelId=provisioned_model_name,
        )

    def invocation_logging(self) -> dict[str, Any] | None:
        """The account's invocation logging configuration in this Region, None when logging is off."""
        response = self._get("GetModelInvocationLoggingConfiguration", "get_model_invocation_logging_configuration")
        return (response or {}).get("loggingConfig")

    def _get(self, operation: str, method: str, **request: Any) -> dict[str, Any] | None:
        with aws_errors(operation):
            try:
                response: dict[str, Any] = getattr(self._bedrock.client, method)(**request)
            except Exception as error:
                if error_code(error) == "ResourceNotFoundException":
                    return None
                raise
        response.pop("ResponseMetadata", None)
        return response
