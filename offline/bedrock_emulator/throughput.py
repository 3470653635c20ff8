"""Provisioned Throughput: bought for a custom or foundation model, Creating until provisioned (InService, or
Failed by a fault), deleted by name or ARN unless a commitment term still runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from offline.bedrock_emulator.core import (
    Account,
    Handler,
    Params,
    Response,
    base_model_arn,
    created_between,
    new_id,
    page,
    without_none,
)
from offline.bedrock_emulator.custom_models import CustomModels
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.quotas import Quotas
from offline.bedrock_emulator.tags import Tags

_COMMITMENT_TERMS = {"OneMonth": timedelta(days=30), "SixMonths": timedelta(days=180)}


@dataclass
class ProvisionedThroughput:
    arn: str
    name: str
    region: str
    model_arn: str
    foundation_model_arn: str
    model_units: int
    commitment_duration: str | None
    client_request_token: str | None
    created_at: datetime
    ready_at: datetime
    planned_failure: str | None
    status: str = "Creating"
    last_modified: datetime | None = None
    failure_message: str | None = None
    deleted: bool = False

    @property
    def commitment_expiration(self) -> datetime | None:
        term = _COMMITMENT_TERMS.get(self.commitment_duration or "")
        return self.created_at + term if term else None


class ProvisionedThroughputs:
    """Every Provisioned Throughput ever created by ARN, deleted ones included. `provisioning_seconds`:
    Creating to InService (or Failed)."""

    def __init__(
        self,
        account: Account,
        *,
        custom_models: CustomModels,
        tags: Tags,
        quotas: Quotas,
        provisioning_seconds: float,
    ) -> None:
        self._account = account
        self._custom_models = custom_models
        self._tags = tags
        self._quotas = quotas
        self._provisioning = timedelta(seconds=provisioning_seconds)
        self.by_arn: dict[str, ProvisionedThroughput] = {}

    def operations(self) -> dict[str, Handler]:
        return {
            "CreateProvisionedModelThroughput": self._create_provisioned_throughput,
            "GetProvisionedModelThroughput": self._get_provisioned_throughput,
            "ListProvisionedModelThroughputs": self._list_provisioned_throughputs,
            "DeleteProvisionedModelThroughput": self._delete_provisioned_throughput,
        }

    def settle(self, now: datetime) -> None:
        for pt in self.by_arn.values():
            if pt.status == "Creating" and now >= pt.ready_at:
                pt.status = "Failed" if pt.planned_failure else "InService"
                pt.failure_message = pt.planned_failure
                pt.last_modified = pt.ready_at

    def find(self, identifier: str) -> ProvisionedThroughput | None:
        """The live Provisioned Throughput named `identifier` or with that ARN."""
        return next((pt for pt in self.by_arn.values() if not pt.deleted and identifier in (pt.arn, pt.name)), None)

    def get(self, identifier: str) -> ProvisionedThroughput:
        """The live Provisioned Throughput a runtime call names; ResourceNotFoundException when there is none."""
        pt = self.find(identifier)
        if pt is None:
            raise BedrockError("ResourceNotFoundException", f"Provisioned model {identifier} not found")
        return pt

    def _create_provisioned_throughput(self, params: Params, region: str) -> Response:
        token = params.get("clientRequestToken")
        for pt in self.by_arn.values():
            if token is not None and pt.client_request_token == token:
                return {"provisionedModelArn": pt.arn}
        name = params["provisionedModelName"]
        if any(pt.name == name and not pt.deleted for pt in self.by_arn.values()):
            raise BedrockError("ValidationException", f"A provisioned model named {name} already exists")
        model_arn, foundation_model_arn = self._resolve_model(params["modelId"], region)
        if params.get("commitmentDuration") is None and ":custom-model/" in model_arn:
            self._check_no_commitment_units_quota(params["modelUnits"], region)
        now = self._account.clock.now()
        pt = ProvisionedThroughput(
            arn=f"arn:aws:bedrock:{region}:{self._account.account_id}:provisioned-model/{new_id()}",
            name=name,
            region=region,
            model_arn=model_arn,
            foundation_model_arn=foundation_model_arn,
            model_units=params["modelUnits"],
            commitment_duration=params.get("commitmentDuration"),
            client_request_token=token,
            created_at=now,
            ready_at=now + self._provisioning,
            planned_failure=self._account.faults.take_provisioned_throughput_failure(name),
            last_modified=now,
        )
        self.by_arn[pt.arn] = pt
        self._tags.created(pt.arn, params.get("tags", []))
        return {"provisionedModelArn": pt.arn}

    def _check_no_commitment_units_quota(self, units: int, region: str) -> None:
        """Live no-commitment PTs on custom models in `region` plus `units` may not pass the quota. Every PT not
        yet deleted holds its units, Creating and Failed ones too (AWS does not say otherwise: the strict reading)."""
        in_use = sum(
            pt.model_units
            for pt in self.by_arn.values()
            if not pt.deleted
            and pt.region == region
            and pt.commitment_duration is None
            and ":custom-model/" in pt.model_arn
        )
        self._quotas.check_no_commitment_units(in_use, units, region)

    def _resolve_model(self, model_id: str, region: str) -> tuple[str, str]:
        """(modelArn, foundationModelArn) for a custom model's name or ARN, or a foundation model's."""
        custom = self._custom_models.find(model_id)
        if custom is not None:
            return custom["modelArn"], custom["baseModelArn"]
        if ":custom-model/" in model_id:
            raise BedrockError("ResourceNotFoundException", f"Custom model {model_id} not found")
        foundation = base_model_arn(model_id, region)
        return foundation, foundation

    @staticmethod
    def _describe(pt: ProvisionedThroughput) -> Response:
        return without_none(
            {
                "modelUnits": pt.model_units,
                "desiredModelUnits": pt.model_units,
                "provisionedModelName": pt.name,
                "provisionedModelArn": pt.arn,
                "modelArn": pt.model_arn,
                "desiredModelArn": pt.model_arn,
                "foundationModelArn": pt.foundation_model_arn,
                "status": pt.status,
                "creationTime": pt.created_at,
                "lastModifiedTime": pt.last_modified,
                "failureMessage": pt.failure_message,
                "commitmentDuration": pt.commitment_duration,
                "commitmentExpirationTime": pt.commitment_expiration,
            }
        )

    def _get_provisioned_throughput(self, params: Params, region: str) -> Response:
        return self._describe(self.get(params["provisionedModelId"]))

    def _list_provisioned_throughputs(self, params: Params, region: str) -> Response:
        live = [pt for pt in self.by_arn.values() if not pt.deleted]
        summaries = [
            {key: value for key, value in self._describe(pt).items() if key != "failureMessage"}
            for pt in created_between(live, params, lambda pt: pt.created_at)
            if params.get("statusEquals") in (None, pt.status)
            and params.get("modelArnEquals") in (None, pt.model_arn)
            and params.get("nameContains", "").lower() in pt.name.lower()
        ]
        return page(summaries, params, "provisionedModelSummaries")

    def _delete_provisioned_throughput(self, params: Params, region: str) -> Response:
        pt = self.get(params["provisionedModelId"])
        conflict = self._account.faults.take_delete_conflict(pt.name)
        if conflict is not None:
            raise BedrockError("ConflictException", conflict)
        expiration = pt.commitment_expiration
        if expiration is not None and self._account.clock.now() < expiration:
            raise BedrockError(
                "ValidationException",
                f"Provisioned model {pt.name} has a {pt.commitment_duration} commitment until "
                f"{expiration.isoformat()} and cannot be deleted before it ends",
            )
        pt.deleted = True
        pt.last_modified = self._account.clock.now()
        self._tags.deleted(pt.arn)
        return {}
