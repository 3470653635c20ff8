"""The two Service Quotas the emulator enforces, per account and per Region.

Names as the Service Quotas console lists them for Amazon Bedrock (the General Reference, "Amazon Bedrock
endpoints and quotas", links there).
"""

from __future__ import annotations

from dataclasses import dataclass

from offline.bedrock_emulator.errors import BedrockError

NO_COMMITMENT_UNITS_QUOTA = "Model units no-commitment Provisioned Throughputs across custom models"
CUSTOMIZATION_JOBS_QUOTA = "(Model customization) Scheduled customization jobs"


@dataclass(frozen=True)
class Quotas:
    """`no_commitment_model_units`: NO_COMMITMENT_UNITS_QUOTA; `customization_jobs`: CUSTOMIZATION_JOBS_QUOTA,
    None for no limit."""

    no_commitment_model_units: int
    customization_jobs: int | None

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
