"""Named errors: the contract between the handlers and the state machine.

A handler raises one of these; Lambda reports the class name as the error type, and the ASL retries the
transient ones and catches the fatal ones by that name. Renaming a class is a change to the ASL.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every error the state machine can see by name.

    When an AWS call raised it (`gateways.calls`), `code` is the service's error code and `reason` its message.
    """

    def __init__(self, message: str = "", *, code: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


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


class RequestRejected(FatalError):
    """An AWS service refused a request: validation, access, a missing resource."""


class BedrockRequestRejected(RequestRejected):
    """Bedrock (control plane or runtime) refused a request."""


class AwsNotConfigured(FatalError):
    """No credentials, no Region or an unknown profile: nothing reached AWS."""


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


class ModelDeploymentFailed(FatalError):
    """GetCustomModelDeployment: the on-demand deployment of the distilled model went Failed."""


class ModelDeploymentQuotaExceeded(FatalError):
    """CreateCustomModelDeployment: the account already has as many custom model deployments as its quota allows."""


class TeacherInferenceFailed(FatalError):
    """Every held-out prompt failed on the teacher: there is nothing to judge the student against."""


class EvaluationJobFailed(FatalError):
    pass


class EvaluationJobStopped(FatalError):
    pass


class EvaluationTimedOut(FatalError):
    """An evaluation job ran longer than the deployment's maxEvaluationHours; the pipeline stopped it."""


class EvaluationResultsUnreadable(FatalError):
    """The evaluation job completed but its output files are missing or not in the layout AWS documents."""
