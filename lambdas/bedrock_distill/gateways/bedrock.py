"""Amazon Bedrock's control plane: customization jobs, Provisioned Throughput, custom model deployments,
evaluation jobs, tags, invocation logging.

The workflow, the cleanup functions, the invocation-logging custom resource and the CLI all call Bedrock through
this one class; errors leave as named errors (`gateways.calls`).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from bedrock_distill.gateways.calls import aws_call, aws_call_unless
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "bedrock"
NOT_FOUND: Final = "ResourceNotFoundException"


class BedrockGateway:
    def __init__(self, bedrock: LazyClient | None = None) -> None:
        self._bedrock = bedrock or LazyClient(SERVICE)

    # Customization jobs ------------------------------------------------------------------------------------

    def create_model_customization_job(self, **request: Any) -> str:
        return str(self._call("CreateModelCustomizationJob", "create_model_customization_job", **request)["jobArn"])

    def get_model_customization_job(self, job_identifier: str) -> dict[str, Any]:
        return self._call("GetModelCustomizationJob", "get_model_customization_job", jobIdentifier=job_identifier)

    def find_model_customization_job(self, job_identifier: str) -> dict[str, Any] | None:
        """The job by ARN or name; None when no such job exists (yet)."""
        return self._call_unless_missing(
            "GetModelCustomizationJob", "get_model_customization_job", jobIdentifier=job_identifier
        )

    def stop_model_customization_job(self, job_identifier: str) -> None:
        self._call("StopModelCustomizationJob", "stop_model_customization_job", jobIdentifier=job_identifier)

    def list_model_customization_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self._listed(
            "ListModelCustomizationJobs", "list_model_customization_jobs", "modelCustomizationJobSummaries", filters
        )

    # Provisioned Throughput --------------------------------------------------------------------------------

    def create_provisioned_model_throughput(self, **request: Any) -> str:
        response = self._call("CreateProvisionedModelThroughput", "create_provisioned_model_throughput", **request)
        return str(response["provisionedModelArn"])

    def get_provisioned_model_throughput(self, provisioned_model_id: str) -> dict[str, Any]:
        return self._call(
            "GetProvisionedModelThroughput",
            "get_provisioned_model_throughput",
            provisionedModelId=provisioned_model_id,
        )

    def find_provisioned_model_throughput(self, provisioned_model_id: str) -> dict[str, Any] | None:
        """The PT by ARN or name; None when none exists (never created, or deleted)."""
        return self._call_unless_missing(
            "GetProvisionedModelThroughput", "get_provisioned_model_throughput", provisionedModelId=provisioned_model_id
        )

    def delete_provisioned_model_throughput(self, provisioned_model_id: str) -> datetime | None:
        """Deletes; returns the service's clock at deletion (its Date header), when it sent one."""
        response = self._call(
            "DeleteProvisionedModelThroughput",
            "delete_provisioned_model_throughput",
            keep_metadata=True,
            provisionedModelId=provisioned_model_id,
        )
        return _service_date(response)

    def list_provisioned_model_throughputs(self, **filters: Any) -> list[dict[str, Any]]:
        return self._listed(
            "ListProvisionedModelThroughputs",
            "list_provisioned_model_throughputs",
            "provisionedModelSummaries",
            filters,
        )

    # Custom model deployments (on-demand inference of a custom model) -----------------------------------------

    def create_custom_model_deployment(self, **request: Any) -> str:
        response = self._call("CreateCustomModelDeployment", "create_custom_model_deployment", **request)
        return str(response["customModelDeploymentArn"])

    def get_custom_model_deployment(self, deployment_identifier: str) -> dict[str, Any]:
        return self._call(
            "GetCustomModelDeployment",
            "get_custom_model_deployment",
            customModelDeploymentIdentifier=deployment_identifier,
        )

    def find_custom_model_deployment(self, deployment_identifier: str) -> dict[str, Any] | None:
        """The deployment by ARN or name; None when none exists (never created, or deleted)."""
        return self._call_unless_missing(
            "GetCustomModelDeployment",
            "get_custom_model_deployment",
            customModelDeploymentIdentifier=deployment_identifier,
        )

    def delete_custom_model_deployment(self, deployment_identifier: str) -> datetime | None:
        """Deletes; returns the service's clock at deletion (its Date header), when it sent one."""
        response = self._call(
            "DeleteCustomModelDeployment",
            "delete_custom_model_deployment",
            keep_metadata=True,
            customModelDeploymentIdentifier=deployment_identifier,
        )
        return _service_date(response)

    def list_custom_model_deployments(self, **filters: Any) -> list[dict[str, Any]]:
        return self._listed(
            "ListCustomModelDeployments", "list_custom_model_deployments", "modelDeploymentSummaries", filters
        )

    # Evaluation jobs -------------------------------------------------------------------------------------------

    def create_evaluation_job(self, **request: Any) -> str:
        return str(self._call("CreateEvaluationJob", "create_evaluation_job", **request)["jobArn"])

    def get_evaluation_job(self, job_identifier: str) -> dict[str, Any]:
        return self._call("GetEvaluationJob", "get_evaluation_job", jobIdentifier=job_identifier)

    def stop_evaluation_job(self, job_identifier: str) -> None:
        self._call("StopEvaluationJob", "stop_evaluation_job", jobIdentifier=job_identifier)

    def list_evaluation_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self._listed("ListEvaluationJobs", "list_evaluation_jobs", "jobSummaries", filters)

    # Tags ----------------------------------------------------------------------------------------------------

    def tags(self, resource_arn: str) -> dict[str, str] | None:
        """The resource's tags; None when it no longer exists (deleted since it was listed)."""
        response = self._call_unless_missing("ListTagsForResource", "list_tags_for_resource", resourceARN=resource_arn)
        if response is None:
            return None
        return {tag["key"]: tag["value"] for tag in response.get("tags", [])}

    # Invocation logging ----------------------------------------------------------------------------------------

    def invocation_logging(self) -> dict[str, Any] | None:
        """The account's model-invocation logging configuration in this Region; None when logging is off."""
        response = self._call("GetModelInvocationLoggingConfiguration", "get_model_invocation_logging_configuration")
        configuration: dict[str, Any] | None = response.get("loggingConfig") or None
        return configuration

    def put_invocation_logging(self, configuration: dict[str, Any]) -> None:
        self._call(
            "PutModelInvocationLoggingConfiguration",
            "put_model_invocation_logging_configuration",
            loggingConfig=configuration,
        )

    def delete_invocation_logging(self) -> None:
        self._call("DeleteModelInvocationLoggingConfiguration", "delete_model_invocation_logging_configuration")

    # --------------------------------------------------------------------------------------------------------

    def _call(self, operation: str, method: str, *, keep_metadata: bool = False, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = aws_call(
            SERVICE, operation, lambda: getattr(self._bedrock.client, method)(**request)
        )
        if not keep_metadata:
            response.pop("ResponseMetadata", None)
        return response

    def _listed(self, operation: str, method: str, key: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a list operation, through botocore's paginator."""

        def every_item() -> list[dict[str, Any]]:
            pages = self._bedrock.client.get_paginator(method).paginate(**request)
            return [item for page in pages for item in page.get(key, [])]

        return aws_call(SERVICE, operation, every_item)

    def _call_unless_missing(self, operation: str, method: str, **request: Any) -> dict[str, Any] | None:
        response: dict[str, Any] | None = aws_call_unless(
            {NOT_FOUND}, SERVICE, operation, lambda: getattr(self._bedrock.client, method)(**request)
        )
        if response is not None:
            response.pop("ResponseMetadata", None)
        return response


def _service_date(response: dict[str, Any]) -> datetime | None:
    """The service's clock when it answered: a response's Date header (every AWS response carries one)."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    return parsedate_to_datetime(date) if date else None
