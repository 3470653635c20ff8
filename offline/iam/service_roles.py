"""The Bedrock emulator's authority over service roles: the template's roles, evaluated by the enforcer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from offline.iam.enforcer import Enforcer, Principal
from offline.iam.policy import conditions_hold, statements, wildcard_match
from offline.iam.requests import invoke_model_requests

BEDROCK_SERVICE_PRINCIPAL = "bedrock.amazonaws.com"
# The session name Bedrock's calls appear under; the role's name comes first in the session ARN.
_SESSION = "bedrock-model-customization"


@dataclass(frozen=True)
class ServiceRole:
    arn: str
    policies: tuple[Mapping[str, Any], ...]
    trust_policy: Mapping[str, Any]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trusts(trust_policy: Mapping[str, Any], service: str, context: Mapping[str, str]) -> bool:
    """Whether the role's trust policy lets `service` assume it (sts:AssumeRole) with this request context.

    The same evaluation as identity policies (an explicit Deny wins, an Allow is needed), with the statement's
    Principal matched against the service principal ("IAM JSON policy elements: Principal")."""
    allowed = False
    for statement in statements([trust_policy]):
        principals = statement.get("Principal", {})
        services = _as_list(principals.get("Service", [])) if isinstance(principals, dict) else [principals]
        names_service = any(wildcard_match(str(s), service) for s in services)
        assumes = any(wildcard_match(str(a), "sts:AssumeRole", ignore_case=True) for a in _as_list(statement["Action"]))
        if names_service and assumes and conditions_hold(statement.get("Condition", {}), context):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


@dataclass
class TemplateServiceRoles:
    enforcer: Enforcer
    roles: Mapping[str, ServiceRole]

    def _principal(self, role_arn: str) -> Principal:
        role = self.roles.get(role_arn)
        return Principal(role_arn, _SESSION, role.policies if role else ())

    def assume(self, role_arn: str, source_arn: str) -> str | None:
        role = self.roles.get(role_arn)
        if role is None:
            return f"role {role_arn} does not exist"
        context = {"aws:SourceAccount": self.enforcer.world.account_id, "aws:SourceArn": source_arn}
        if not trusts(role.trust_policy, BEDROCK_SERVICE_PRINCIPAL, context):
            return f"the trust policy of {role_arn} does not let {BEDROCK_SERVICE_PRINCIPAL} assume it for {source_arn}"
        return None

    @contextmanager
    def acting_as(self, role_arn: str) -> Iterator[None]:
        with Enforcer.acting_as(self._principal(role_arn)):
            yield

    @contextmanager
    def as_service(self) -> Iterator[None]:
        # The invocation-log bucket's policy (a resource policy for bedrock.amazonaws.com) is not evaluated
        # offline: the service's own writes are not checked (README, "What the offline world enforces").
        with Enforcer.acting_as(None):
            yield

    def may_invoke(self, role_arn: str, model_id: str) -> str | None:
        requests = invoke_model_requests(self.enforcer.world, model_id)
        denial = self.enforcer.check(self._principal(role_arn), "bedrock:InvokeModel", requests)
        return denial.message if denial else None
