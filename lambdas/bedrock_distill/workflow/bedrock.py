"""Bedrock's control plane as the workflow uses it; every ClientError leaves here as a named error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bedrock_distill.aws import LazyClient
from bedrock_distill.workflow.errors import call_aws


class BedrockGateway:
    def __init__(self, bedrock: LazyClient | None = None) -> None:
        self._bedrock = bedrock or LazyClient("bedrock")

    @property
    def client(self) -> Any:
        return self._bedrock.client

    def create_model_customization_job(self, **request: Any) -> str:
        response = self._call("CreateModelCustomizationJob", self.client.create_model_customization_job, request)
        return str(response["jobArn"])

    def get_model_customization_job(self, job_arn: str) -> dict[str, Any]:
        return self._call(
            "GetModelCustomizationJob", self.client.get_model_customization_job, {"jobIdentifier": job_arn}
        )

    def create_provisioned_model_throughput(self, **request: Any) -> str:
        response = self._call(
            "CreateProvisionedModelThroughput", self.client.create_provisioned_model_throughput, request
        )
        return str(response["provisionedModelArn"])

    def get_provisioned_model_throughput(self, provisioned_model_id: str) -> dict[str, Any]:
        return self._call(
            "GetProvisionedModelThroughput",
            self.client.get_provisioned_model_throughput,
            {"provisionedModelId": provisioned_model_id},
        )

    def delete_provisioned_model_throughput(self, provisioned_model_id: str) -> datetime | None:
        """Deletes; returns the service's clock at deletion (its Date header), when it sent one."""
        response = self._call(
            "DeleteProvisionedModelThroughput",
            self.client.delete_provisioned_model_throughput,
            {"provisionedModelId": provisioned_model_id},
        )
        date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        return parsedate_to_datetime(date) if date else None

    @staticmethod
    def _call(operation: str, method: Callable[..., dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
        return call_aws(operation, lambda: method(**request))
