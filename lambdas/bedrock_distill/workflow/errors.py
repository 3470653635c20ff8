"""Named errors: the contract between the handlers and the state machine.

A handler raises one of these; Lambda reports the class name as the error type, and the ASL retries the
transient ones and catches the fatal ones by that name. Renaming a class is a change to the ASL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


class WorkflowError(Exception):
    """Base of every error the state machine can see by name."""


class TransientError(WorkflowError):
    """Worth retrying with backoff: the ASL's Retry lists every subclass by name."""


class ThrottlingException(TransientError):
    pass


class InternalServerException(TransientError):
    pass


class ServiceUnavailableException(TransientError):
    pass


class ConflictException(TransientError):
    """The resource is changing state (e.g. a PT still Creating); deleting it again later succeeds."""


class FatalError(WorkflowError):
    """Retrying cannot help: the execution goes to its failure path (and deletes any PT)."""


class InvalidExecutionInput(FatalError):
    pass


class PreflightFailed(FatalError):
    pass


class BedrockRequestRejected(FatalError):
    """Bedrock refused a request: validation, access, a missing resource."""


class DistillationJobFailed(FatalError):
    pass


class DistillationJobStopped(FatalError):
    pass


class ProvisionedThroughputFailed(FatalError):
    pass


class ProvisionedThroughputQuotaExceeded(FatalError):
    """CreateProvisionedModelThroughput: the no-commitment model units would pass the account's quota."""


class CustomizationJobQuotaExceeded(FatalError):
    """CreateModelCustomizationJob: the account already runs as many customization jobs as its quota allows."""


class ValidationInferenceFailed(FatalError):
    pass


TRANSIENT_ERROR_CODES = {
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


QUOTA_EXCEEDED = "ServiceQuotaExceededException"


def error_code(error: BaseException) -> str:
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def translate_client_error(error: Exception, context: str) -> WorkflowError:
    """A botocore ClientError as the named error the state machine understands."""
    code = error_code(error)
    message = f"{context}: {code}: {error}"
    transient = TRANSIENT_ERROR_CODES.get(code)
    if transient is not None:
        return transient(message)
    return BedrockRequestRejected(message)


def call_aws(context: str, call: Callable[[], _T]) -> _T:
    """Make one AWS call; a ClientError leaves as the named error the state machine understands."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - botocore loads with the first AWS call

    try:
        return call()
    except ClientError as error:
        raise translate_client_error(error, context) from error
