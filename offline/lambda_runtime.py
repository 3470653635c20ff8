"""In-process Lambda for moto's Step Functions: the glue between its Task states and our handlers.

moto's Step Functions interpreter invokes Lambda through boto3, and moto's Lambda would need Docker to
run the code. This hook answers `lambda.Invoke` for the functions registered here by importing the real
handler module and calling it with the event, the way the Lambda runtime does: a raised exception becomes
`FunctionError: Unhandled` with `errorType` = the exception's class name, which is what the ASL's Retry
and Catch match on. Functions not registered here go on to moto as usual.
"""

from __future__ import annotations

import importlib
import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS
from botocore.response import StreamingBody

from offline.botocore_hooks import ActiveSlot, params_keeper
from offline.iam.enforcer import Enforcer, Principal

_PARAMS_KEY = "bedrock_distill.offline.invoke"

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str = "bedrock-distill-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bedrock-distill-local"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/bedrock-distill-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass(frozen=True)
class InjectedError:
    error_type: str
    message: str
    # True: the handler runs (its side effects happen) and then the invocation fails, as when a function
    # times out after Bedrock accepted its request.
    after_running: bool = False


@dataclass
class LocalLambdas:
    """Function name -> handler path ("package.module.function"), and errors to report instead of running."""

    handlers: dict[str, str] = field(default_factory=dict)
    # Each function's role as synthesized: its calls are authorized against these policies (offline.iam).
    principals: dict[str, Principal] = field(default_factory=dict)
    invocations: list[tuple[str, Any]] = field(default_factory=list)
    _injected: dict[str, list[InjectedError]] = field(default_factory=dict)
    _results: dict[str, list[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, function_name: str, handler_path: str, principal: Principal | None = None) -> None:
        self.handlers[function_name] = handler_path
        if principal is not None:
            self.principals[function_name] = principal

    def fail_next(self, function_name: str, error_type: str, *, times: int = 1, after_running: bool = False) -> None:
        """The next `times` invocations report `error_type` as if the handler had raised it."""
        injected = InjectedError(error_type, f"injected {error_type}", after_running)
        with self._lock:
            self._injected.setdefault(function_name, []).extend([injected] * times)

    def return_next(self, function_name: str, result: Any) -> None:
        """The next invocation returns `result` without running the handler: a function deployed at another
        version, whose output the state machine does not expect."""
        with self._lock:
            self._results.setdefault(function_name, []).append(result)

    def invoke(self, function_name: str, payload: bytes) -> dict[str, Any]:
        event = json.loads(payload or b"{}")
        with self._lock:
            self.invocations.append((function_name, event))
            pending = self._injected.get(function_name)
            injected = pending.pop(0) if pending else None
            results = self._results.get(function_name)
            if injected is None and results:
                return _response(results.pop(0))
        if injected is not None and not injected.after_running:
            return _error_response(injected.error_type, injected.message, [])
        handler = _load(self.handlers[function_name])
        try:
            with Enforcer.acting_as(self.principals.get(function_name)):
                result = handler(event, LocalLambdaContext(function_name=function_name))
        except Exception as error:  # the Lambda runtime reports every exception the same way
            return _error_response(type(error).__name__, str(error), traceback.format_exception(error))
        if injected is not None:
            return _error_response(injected.error_type, injected.message, [])
        return _response(result)

    def invocation_count(self, function_name: str) -> int:
        return sum(1 for name, _ in self.invocations if name == function_name)


def _load(handler_path: str) -> Handler:
    module_name, function_name = handler_path.rsplit(".", 1)
    handler: Handler = getattr(importlib.import_module(module_name), function_name)
    return handler


def _error_response(error_type: str, message: str, stack_trace: list[str]) -> dict[str, Any]:
    return _response(
        {"errorType": error_type, "errorMessage": message, "stackTrace": stack_trace}, function_error="Unhandled"
    )


def _response(payload: Any, function_error: str | None = None) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    response: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(BytesIO(body), len(body)),
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    if function_error:
        response["FunctionError"] = function_error
    return response


_active: ActiveSlot[LocalLambdas] = ActiveSlot()
activate, deactivate = _active.activate, _active.deactivate


def _answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    lambdas = _active.value
    params = context.get(_PARAMS_KEY, {})
    name = str(params.get("FunctionName", "")).rsplit(":function:", 1)[-1].split(":", 1)[0]
    if lambdas is None or name not in lambdas.handlers:
        return None
    payload = params.get("Payload", b"")
    parsed = lambdas.invoke(name, payload.encode() if isinstance(payload, str) else payload)
    return AWSResponse(f"https://lambda.local/functions/{name}", 200, HTTPHeaders(), BytesIO()), parsed


BUILTIN_HANDLERS.append(("before-parameter-build.lambda.Invoke", params_keeper(_PARAMS_KEY)))
BUILTIN_HANDLERS.append(("before-call.lambda.Invoke", _answer))
