"""The Service Quotas the emulator enforces, per account and per Region.

Names as the Service Quotas console lists them for Amazon Bedrock (the General Reference, "Amazon Bedrock
endpoints and quotas", links there). The quota on custom model deployments is the exception: neither the user
guide ("Deploy a custom model for on-demand inference") nor botocore names it, only that CreateCustomModelDeployment
can raise ServiceQuotaExceededException, so its message describes it instead of quoting a name.
"""

from __future__ import annotations

from dataclasses import dataclass

from offline.bedrock_emulator.errors import BedrockError

NO_COMMITMENT_UNITS_QUOTA = "Model units no-commitment Provisioned Throughputs across custom models"
CUSTOMIZATION_JOBS_QUOTA = "(Model customization) Scheduled customization jobs"


@dataclass(frozen=True)
class Quotas:
    """`no_commitment_model_units`: NO_COMMITMENT_UNITS_QUOTA; `customization_jobs`: CUSTOMIZATION_JOBS_QUOTA;
    `custom_model_deployments`: deployments not yet deleted; None for no limit."""

    no_commitment_model_units: int
    customization_jobs: int | None
    custom_model_deployments: int | None = None

    def check_customization_jobs(self, active: int, region: str) -> None:
        """One more job may start while `active` jobs hold a slot in `region`."""
        quota = self.customization_jobs
        if quota is not None and active >= quota:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{active} model customization job(s) are already in progress in {region}, the account's quota "
                f"'{CUSTOMIZATION_JOBS_QUOTA}' ({quota}). Wait for one to end, or request an increase of that "
                "quota in Service Quotas (Amazon Bedrock).",
            )

    def check_no_commitment_units(self, in_use: int, units: int, region: str) -> None:
        """`units` more no-commitment model units may be bought while `in_use` are held in `region`."""
        quota = self.no_commitment_model_units
        if in_use + units > quota:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{units} no-commitment model unit(s) requested with {in_use} already in use in {region} exceed the "
                f"account's quota '{NO_COMMITMENT_UNITS_QUOTA}' ({quota}). Request an increase of that quota in "
                "Service Quotas (Amazon Bedrock), or delete a no-commitment Provisioned Throughput.",
            )

    def check_custom_model_deployments(self, existing: int, region: str) -> None:
        """One more deployment may be created while `existing` ones (not deleted) are held in `region`."""
        quota = self.custom_model_deployments
        if quota is not None and existing >= quota:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{existing} custom model deployment(s) already exist in {region}, the account's quota of custom "
                f"model deployments ({quota}). Delete a deployment, or request an increase of the quota in Service "
                "Quotas (Amazon Bedrock).",
            )
