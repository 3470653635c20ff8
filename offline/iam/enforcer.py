"""Every AWS call a function makes, authorized against that function's role as synthesized.

The offline Lambda runtime runs each handler `acting_as` its function's principal (a contextvar, so it
follows the handler into its worker threads); the Bedrock emulator acts as the distillation service role
when it reads and writes S3 for a job. This module's botocore hook runs first at `before-call` for every
service the pipeline uses, turns the call into the requests IAM would evaluate (`requests.requests_for`)
and answers a denied one with the service's own AccessDenied error, before moto or the emulator sees it.
Calls made with no principal (a test's own set-up, the demo's teacher traffic) are not checked.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import s3transfer.futures  # type: ignore[import-untyped]
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS, REGISTER_FIRST
from botocore.model import OperationModel

from bedrock_distill.threads import ContextThreadPoolExecutor
from offline.botocore_hooks import ActiveSlot, params_keeper
from offline.iam.policy import Decision, Grant, Request, explain
from offline.iam.requests import SERVICES, World, list_bucket_request, requests_for

_PARAMS_KEY = "bedrock_distill.offline.iam.params"
# The error each service answers a denied request with (its API reference, "Common errors").
_DENIAL_CODES = {"s3": "AccessDenied", "sns": "AuthorizationError"}


@dataclass(frozen=True)
class Principal:
    """A role and the session a caller holds on it."""

    role_arn: str
    session_name: str
    policies: tuple[Mapping[str, Any], ...]

    @property
    def session_arn(self) -> str:
        _, _, _, _, account, resource = self.role_arn.split(":", 5)
        return f"arn:aws:sts::{account}:assumed-role/{resource.rsplit('/', 1)[-1]}/{self.session_name}"


@dataclass(frozen=True)
class Denial:
    principal: str
    operation: str
    request: Request
    decision: Decision

    @property
    def message(self) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if self.decision is Decision.EXPLICIT_DENY
            else f"because no identity-based policy allows the {self.request.action} action"
        )
        return (
            f"User: {self.principal} is not authorized to perform: {self.request.action} "
            f"on resource: {self.request.resource} {why}"
        )


_caller: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("offline_iam_caller", default=None)


@dataclass(frozen=True)
class Authorization:
    """A request the principal's policies allowed, and the grants that allowed it."""

    principal: Principal
    operation: str
    request: Request
    grants: frozenset[Grant]


@dataclass
class Enforcer:
    world: World
    denials: list[Denial] = field(default_factory=list)
    authorizations: list[Authorization] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, principal: Principal, operation: str, requests: Sequence[Request]) -> Denial | None:
        """The first request the principal's policies do not allow, or None; both are recorded."""
        for request in requests:
            decision, grants = explain(principal.policies, request)
            if decision is not Decision.ALLOW:
                denial = Denial(principal.session_arn, operation, request, decision)
                with self._lock:
                    self.denials.append(denial)
                return denial
            with self._lock:
                self.authorizations.append(Authorization(principal, operation, request, grants))
        return None

    @staticmethod
    @contextmanager
    def acting_as(principal: Principal | None) -> Iterator[None]:
        token = _caller.set(principal)
        try:
            yield
        finally:
            _caller.reset(token)


_active: ActiveSlot[Enforcer] = ActiveSlot()
activate, deactivate = _active.activate, _active.deactivate


class _EmptyBody(BytesIO):
    """A raw HTTP body botocore can stream, as a real response's is."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def _denied(service: str, denial: Denial) -> dict[str, Any]:
    code = _DENIAL_CODES.get(service, "AccessDeniedException")
    return {
        "Error": {"Code": code, "Message": denial.message},
        "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}, "RetryAttempts": 0},
    }


def _authorize(model: OperationModel, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    enforcer, principal = _active.value, _caller.get()
    if enforcer is None or principal is None:
        return None
    service = model.service_model.service_name
    requests = requests_for(service, model.name, context.get(_PARAMS_KEY, {}), enforcer.world)
    denial = enforcer.check(principal, f"{service}:{model.name}", requests)
    if denial is None:
        return None
    return AWSResponse(f"https://{service}.offline", 403, HTTPHeaders(), _EmptyBody()), _denied(service, denial)


def _missing_object_without_list_permission(
    model: OperationModel, parsed: dict[str, Any], context: dict[str, Any], **_: Any
) -> None:
    """S3 answers a read of a missing key with 404 only to a caller that may list the bucket; anyone else gets
    403 AccessDenied (S3 API reference, GetObject and HeadObject: "Permissions")."""
    enforcer, principal = _active.value, _caller.get()
    if enforcer is None or principal is None or model.name not in ("GetObject", "HeadObject"):
        return
    if parsed.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
        return
    params = context.get(_PARAMS_KEY, {})
    listing = list_bucket_request(enforcer.world, str(params.get("Bucket", "")), str(params.get("Key", "")))
    denial = enforcer.check(principal, f"s3:{model.name}", [listing])
    if denial is not None:
        parsed.clear()
        parsed.update(_denied("s3", denial))


# botocore emits a service's events under its hyphenized service id, which differs from its name for Step
# Functions ("sfn"); tests/unit/offline/test_iam_enforcer.py checks this against botocore's models.
EVENT_NAMES = {service: "sfn" if service == "stepfunctions" else service for service in SERVICES}


# s3transfer (upload_fileobj, upload_file, download_fileobj) moves the parts of an object in a thread pool of its
# own, whose threads start with an empty context: without the caller's context there, a function's uploads would
# reach moto unchecked, and grants only they need would look unused to the least-privilege audit.
s3transfer.futures.BoundedExecutor.EXECUTOR_CLS = ContextThreadPoolExecutor

for _name in EVENT_NAMES.values():
    BUILTIN_HANDLERS.append((f"before-parameter-build.{_name}", params_keeper(_PARAMS_KEY), REGISTER_FIRST))
    BUILTIN_HANDLERS.append((f"before-call.{_name}", _authorize, REGISTER_FIRST))
BUILTIN_HANDLERS.append(("after-call.s3", _missing_object_without_list_permission))
