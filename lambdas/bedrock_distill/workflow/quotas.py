"""The Amazon Bedrock service quotas a run can hit, by the names the Service Quotas console gives them.

Both are per account and per Region, and both are raised in Service Quotas: console, Service Quotas > AWS
services > Amazon Bedrock > the quota > Request increase at account level; or `aws service-quotas
request-service-quota-increase --service-code bedrock --quota-code <code> --desired-value <n>`. The AWS
General Reference page "Amazon Bedrock endpoints and quotas" tables them. Names and codes here are as
public Service Quotas listings show them (third-party: the General Reference table could not be read
when this was written); the quota name is what to search for in the console.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    name: str
    code: str

    def request_increase(self, to: str) -> str:
        """The step a person takes, as a sentence without its full stop: "Request an increase ... to <to>"."""
        return (
            f"Request an increase of the Amazon Bedrock quota '{self.name}' ({self.code}) in Service Quotas, "
            f"in this Region, to {to}"
        )


# A new account has 0: no no-commitment PT can be bought before AWS grants model units (user guide,
# "Purchase a Provisioned Throughput for an Amazon Bedrock model").
NO_COMMITMENT_MODEL_UNITS = Quota(
    "Model units no-commitment Provisioned Throughputs across custom models", "L-BE77399C"
)
# Customization jobs (distillation included) submitted and not yet ended.
CUSTOMIZATION_JOBS = Quota("(Model customization) Scheduled customization jobs", "L-0406044C")
