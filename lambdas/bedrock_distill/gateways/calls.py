"""The one mapping from what boto3 raises to the named errors of `bedrock_distill.workflow.errors`.

Every gateway makes its calls through `aws_call`, so a ClientError never leaves the gateways: the state machine
retries the transient names and catches the fatal ones, and the CLI turns them into its exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from bedrock_distill.workflow.errors import (
    AwsNotConfigured,
    BedrockRequestRejected,
    InternalServerException,
    RequestRejected,
    ServiceUnavailableException,
    ThrottlingException,
    TransientError,
    WorkflowError,
)

_T = TypeVar("_T")

TRANSIENT_ERROR_CODES: Final[dict[str, type[TransientError]]] = {
    "ThrottlingException": ThrottlingException,
    "TooManyRequestsException": ThrottlingException,
    "InternalServerException": InternalServerException,
    "ServiceUnavailableException": ServiceUnavailableException,
    "ModelNotReadyException": ServiceUnavailableException,
    # S3's own codes for a request to retry (S3 API reference, "Error responses": SlowDown, InternalError, 503).
    "SlowDown": ThrottlingException,
    "InternalError": InternalServerException,
    "ServiceUnavailable": ServiceUnavailableException,
}
QUOTA_EXCEEDED: Final = "ServiceQuotaExceededException"
_BEDROCK_SERVICES: Final = frozenset({"bedrock", "bedrock-runtime"})


def error_code(error: BaseException) -> str:
    """The AWS error code of a named error or of a botocore ClientError; empty for anything else."""
    if isinstance(error, WorkflowError):
        return error.code
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def named_error(error: Exception, service: str, operation: str) -> WorkflowError:
    """What boto3 raised, as the named error the state machine and the CLI understand."""
    from botocore.exceptions import (  # noqa: PLC0415 - botocore loads with the first AWS call
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(error, WorkflowError):
        return error
    if isinstance(error, ClientError):
        code = error_code(error)
        reason = str(error.response.get("Error", {}).get("Message") or "")
        message = f"{operation}: {code}: {reason or error}"
        transient = TRANSIENT_ERROR_CODES.get(code)
        if transient is not None:
            return transient(message, code=code, reason=reason)
        rejected = BedrockRequestRejected if service in _BEDROCK_SERVICES else RequestRejected
        return rejected(message, code=code, reason=reason)
    named: type[WorkflowError] | None = None
    if isinstance(error, ConnectionError | HTTPClientError):
        named = ServiceUnavailableException
    elif isinstance(error, NoCredentialsError | NoRegionError | ProfileNotFound):
        named = AwsNotConfigured
    if named is None:
        raise error
    return named(f"{operation}: {error}", code=type(error).__name__, reason=str(error))


def aws_call_unless(codes: Collection[str], service: str, operation: str, call: Callable[[], _T]) -> _T | None:
    """`aws_call`, but None when the service answers with one of `codes` (a resource gone, a stale token)."""
    try:
        return aws_call(service, operation, call)
    except WorkflowError as error:
        if error.code in codes:
            return None
        raise


@contextmanager
def named_errors(service: str, operation: str) -> Iterator[None]:
    """What boto3 raises inside leaves as a named error: for streams and pages read over several statements."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise named_error(error, service, operation) from error


def aws_call(service: str, operation: str, call: Callable[[], _T]) -> _T:
    """Make one AWS call (or page through one listing); what boto3 raises leaves as a named error."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        return call()
    except (ClientError, BotoCoreError) as error:
        raise named_error(error, service, operation) from error
