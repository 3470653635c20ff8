"""The botocore hook: answers `bedrock` and `bedrock-runtime` calls in-process while an emulator is active.

Like moto, it is installed in botocore's BUILTIN_HANDLERS when this module is imported, so every client
created afterwards (from any session, at any time) carries it; it does nothing while no emulator is active.
It answers at `before-call`, after botocore has resolved and serialized the request, and hands back an
HTTP response run through botocore's own parser, so callers get real parsed output and real modeled
exceptions. Answering before `send` also skips botocore's retries: an injected fault reaches the caller.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from io import BytesIO
from typing import Any, Protocol

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.validate import ParamValidator

from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.models import SERVICE_NAMES, error_http_status

_PARAMS_KEY = "offline.bedrock_emulator.params"


class Clock(Protocol):
    def now(self) -> datetime: ...


class Emulator(Protocol):
    @property
    def clock(self) -> Clock: ...

    def handle(self, operation: OperationModel, params: dict[str, Any], region: str) -> dict[str, Any]: ...


_active: Emulator | None = None
_activation_lock = threading.Lock()


def activate(emulator: Emulator) -> None:
    global _active  # noqa: PLW0603 - botocore calls module-level handlers; the active emulator lives here
    with _activation_lock:
        if _active is not None and _active is not emulator:
            raise RuntimeError("another BedrockEmulator is already active; stop it first")
        _active = emulator


def deactivate(emulator: Emulator) -> None:
    global _active  # noqa: PLW0603
    with _activation_lock:
        if _active is emulator:
            _active = None


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # The same dict the client goes on with, so the idempotency token botocore fills in later shows up.
    context[_PARAMS_KEY] = params


def _answer(model: OperationModel, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    emulator = _active
    if emulator is None:
        return None
    params = copy.deepcopy(context.get(_PARAMS_KEY, {}))
    # The Date header carries the logical clock, as a real response carries the service's clock.
    headers = {
        "x-amzn-requestid": str(uuid.uuid4()),
        "content-type": "application/json",
        "date": format_datetime(emulator.clock.now().astimezone(UTC), usegmt=True),
    }
    try:
        body = emulator.handle(model, params, context["client_region"])
        report = ParamValidator().validate(body, model.output_shape)
        if report.has_errors():
            raise AssertionError(f"emulator bug: invalid {model.name} response: {report.generate_report()}")
        status = model.http.get("responseCode", 200)
        payload = json.dumps(body, default=_iso8601).encode()
    except BedrockError as error:
        status = error_http_status(model.service_model, error.code)
        headers["x-amzn-errortype"] = error.code
        payload = json.dumps({"message": error.message}).encode()
    parsed = create_parser(model.service_model.protocol).parse(
        {"status_code": status, "headers": headers, "body": payload}, model.output_shape
    )
    endpoint = f"https://{model.service_model.endpoint_prefix}.{context['client_region']}.amazonaws.com"
    return AWSResponse(endpoint, status, HTTPHeaders(headers), _RawBody(payload)), parsed


def _iso8601(value: Any) -> str:
    if isinstance(value, datetime):
        # As the service writes timestamps: UTC, milliseconds, a Z.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _RawBody(BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


for _service in SERVICE_NAMES:
    BUILTIN_HANDLERS.append((f"before-parameter-build.{_service}", _remember_params))
    BUILTIN_HANDLERS.append((f"before-call.{_service}", _answer))
