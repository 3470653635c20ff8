"""Custom model deployments: a custom model served on demand (billed per token, nothing per hour), Creating until
ready (Active, or Failed by a fault), deleted by name or ARN. Converse takes the deployment's ARN as its modelId
(see `runtime`).

Which custom models can be deployed, from the user guide's "Deploy a custom model for on-demand inference"
(https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html, read 2026-11-28): the
base models and the Region each is offered in, customized on or after
2025-07-16. The page has changed over time (earlier versions listed Nova Lite, Micro and Pro in us-east-1 and
us-west-2); this is its current table, kept here as the emulator's own reading so that a different reading in the
project's catalog shows up as a disagreement instead of being mirrored.

No EventBridge event is emitted: Bedrock sends none for deployments ("How EventBridge for Amazon Bedrock works").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from offline.bedrock_emulator.core import (
    Account,
    Handler,
    Params,
    Response,
    created_between,
    model_id,
    new_id,
    page,
    without_none,
)
from offline.bedrock_emulator.custom_models import CustomModels
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.quotas import Quotas
from offline.bedrock_emulator.tags import Tags

# Base model (its id without the context-length suffix) -> the name the page gives it and its Regions.
ON_DEMAND_BASE_MODELS: dict[str, tuple[str, frozenset[str]]] = {
    "amazon.nova-lite-v1:0": ("Amazon Nova Lite", frozenset({"us-east-1"})),
    "amazon.nova-2-lite-v1:0": ("Amazon Nova 2 Lite", frozenset({"us-east-1"})),
    "amazon.nova-micro-v1:0": ("Amazon Nova Micro", frozenset({"us-east-1"})),
    "amazon.nova-pro-v1:0": ("Amazon Nova Pro", frozenset({"us-east-1"})),
    "meta.llama3-3-70b-instruct-v1:0": ("Meta Llama 3.3 70B Instruct", frozenset({"us-west-2"})),
}
CUSTOMIZED_ON_OR_AFTER = datetime(2025, 7, 16, tzinfo=UTC)


@dataclass
class ModelDeployment:
    arn: str
    name: str
    region: str
    model_arn: str
    description: str | None
    client_request_token: str | None
    created_at: datetime
    ready_at: datetime
    planned_failure: str | None
    status: str = "Creating"
    last_updated: datetime | None = None
    failure_message: str | None = None
    deleted: bool = False


def on_demand_refusal(custom_model: Response, region: str) -> str | None:
    """Why `custom_model` cannot be deployed for on-demand inference in `region`, as a ValidationException
    message, or None when it can."""
    base = _without_context_length(model_id(str(custom_model["baseModelArn"])))
    supported = ON_DEMAND_BASE_MODELS.get(base)
    if supported is None:
        names = ", ".join(name for name, _ in ON_DEMAND_BASE_MODELS.values())
        return (
            f"The custom model {custom_model['modelArn']} is based on {base}, which does not support on-demand "
            f"deployment. Supported base models: {names}."
        )
    name, regions = supported
    if region not in regions:
        return (
            f"On-demand deployment of custom models based on {name} is not supported in {region}. "
            f"Supported Regions: {', '.join(sorted(regions))}."
        )
    if custom_model["creationTime"] < CUSTOMIZED_ON_OR_AFTER:
        return (
            f"The custom model {custom_model['modelArn']} was customized before "
            f"{CUSTOMIZED_ON_OR_AFTER:%Y-%m-%d}; only models customized on or after that date can be deployed."
        )
    return None


def _without_context_length(base_model: str) -> str:
    """`amazon.nova-lite-v1:0:300k` -> `amazon.nova-lite-v1:0`: the customizable form names the context length."""
    parts = base_model.split(":")
    return ":".join(parts[:2]) if len(parts) > 2 else base_model  # id:version[:context]


class ModelDeployments:
    """Every custom model deployment ever created by ARN, deleted ones included. `deployment_seconds`: Creating to
    Active (or Failed); AWS does not document how long it takes."""

    def __init__(
        self,
        account: Account,
        *,
        custom_models: CustomModels,
        tags: Tags,
        quotas: Quotas,
        deployment_seconds: float,
    ) -> None:
        self._account = account
        self._custom_models = custom_models
        self._tags = tags
        self._quotas = quotas
        self._deploying = timedelta(seconds=deployment_seconds)
        self.by_arn: dict[str, ModelDeployment] = {}

    def operations(self) -> dict[str, Handler]:
        return {
            "CreateCustomModelDeployment": self._create,
            "GetCustomModelDeployment": self._get,
            "ListCustomModelDeployments": self._list,
            "DeleteCustomModelDeployment": self._delete,
        }

    def settle(self, now: datetime) -> None:
        for deployment in self.by_arn.values():
            if deployment.status == "Creating" and now >= deployment.ready_at:
                deployment.status = "Failed" if deployment.planned_failure else "Active"
                deployment.failure_message = deployment.planned_failure
                deployment.last_updated = deployment.ready_at

    def find(self, identifier: str) -> ModelDeployment | None:
        """The live deployment named `identifier` or with that ARN."""
        return next(
            (d for d in self.by_arn.values() if not d.deleted and identifier in (d.arn, d.name)),
            None,
        )

    def get(self, identifier: str) -> ModelDeployment:
        """The live deployment a call names; ResourceNotFoundException when there is none."""
        deployment = self.find(identifier)
        if deployment is None:
            raise BedrockError("ResourceNotFoundException", f"Custom model deployment {identifier} not found")
        return deployment

    def _create(self, params: Params, region: str) -> Response:
        token = params.get("clientRequestToken")
        for deployment in self.by_arn.values():
            # "If this token matches a previous request, Amazon Bedrock ignores the request, but does not return an
            # error" (API reference, CreateCustomModelDeployment).
            if token is not None and deployment.client_request_token == token:
                return {"customModelDeploymentArn": deployment.arn}
        name = params["modelDeploymentName"]
        if any(d.name == name and d.region == region and not d.deleted for d in self.by_arn.values()):
            # Unique "within your AWS account and Region" (API reference); botocore models no ConflictException for
            # this operation, so a clash is a ValidationException.
            raise BedrockError("ValidationException", f"A custom model deployment named {name} already exists")
        custom_model = self._custom_models.find(params["modelArn"])
        if custom_model is None or f":bedrock:{region}:" not in custom_model["modelArn"]:
            raise BedrockError("ResourceNotFoundException", f"Custom model {params['modelArn']} not found in {region}")
        if custom_model["modelStatus"] != "Active":
            raise BedrockError(
                "ValidationException", f"The custom model {custom_model['modelArn']} must be Active to be deployed"
            )
        if refused := on_demand_refusal(custom_model, region):
            raise BedrockError("ValidationException", refused)
        self._quotas.check_custom_model_deployments(
            sum(1 for d in self.by_arn.values() if d.region == region and not d.deleted), region
        )
        now = self._account.clock.now()
        deployment = ModelDeployment(
            arn=f"arn:aws:bedrock:{region}:{self._account.account_id}:custom-model-deployment/{new_id()}",
            name=name,
            region=region,
            model_arn=custom_model["modelArn"],
            description=params.get("description"),
            client_request_token=token,
            created_at=now,
            ready_at=now + self._deploying,
            planned_failure=self._account.faults.take_model_deployment_failure(name),
            last_updated=now,
        )
        self.by_arn[deployment.arn] = deployment
        self._tags.created(deployment.arn, params.get("tags", []))
        return {"customModelDeploymentArn": deployment.arn}

    @staticmethod
    def _describe(deployment: ModelDeployment) -> Response:
        return without_none(
            {
                "customModelDeploymentArn": deployment.arn,
                "modelDeploymentName": deployment.name,
                "modelArn": deployment.model_arn,
                "createdAt": deployment.created_at,
                "status": deployment.status,
                "description": deployment.description,
                "failureMessage": deployment.failure_message,
                "lastUpdatedAt": deployment.last_updated,
            }
        )

    def _get(self, params: Params, region: str) -> Response:
        return self._describe(self.get(params["customModelDeploymentIdentifier"]))

    def _list(self, params: Params, region: str) -> Response:
        live = [d for d in self.by_arn.values() if not d.deleted and d.region == region]
        summaries = [
            # The summary names the deployment customModelDeploymentName, Get modelDeploymentName [BC].
            without_none(
                {
                    "customModelDeploymentArn": d.arn,
                    "customModelDeploymentName": d.name,
                    "modelArn": d.model_arn,
                    "createdAt": d.created_at,
                    "status": d.status,
                    "lastUpdatedAt": d.last_updated,
                    "failureMessage": d.failure_message,
                }
            )
            for d in created_between(live, params, lambda d: d.created_at, ("createdAfter", "createdBefore"))
            if params.get("statusEquals") in (None, d.status)
            and params.get("modelArnEquals") in (None, d.model_arn)
            and params.get("nameContains", "").lower() in d.name.lower()
        ]
        return page(summaries, params, "modelDeploymentSummaries")

    def _delete(self, params: Params, region: str) -> Response:
        deployment = self.get(params["customModelDeploymentIdentifier"])
        conflict = self._account.faults.take_model_deployment_delete_conflict(deployment.name)
        if conflict is not None:
            raise BedrockError("ConflictException", conflict)
        # Irreversible, and the custom model stays (user guide, "Delete a custom model deployment").
        deployment.deleted = True
        deployment.last_updated = self._account.clock.now()
        self._tags.deleted(deployment.arn)
        return {}
