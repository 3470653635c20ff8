"""How the emulator acts as a job's service role, when the offline world supplies the role's policies.

Bedrock runs a customization job as the role the request names: it assumes the role (its trust policy must
let `bedrock.amazonaws.com` in for this job), reads the training data and writes the outputs with it, and
invokes the teacher with it (user guide, "Create a service role for model customization"; "Choose teacher
and student models for distillation" for the inference-profile case). A missing grant fails the job, not
the API call. The emulator knows no IAM itself: an authority decides, and without one nothing is checked.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class ServiceRoleAuthority(Protocol):
    def assume(self, role_arn: str, source_arn: str) -> str | None:
        """Why Bedrock may not assume `role_arn` on behalf of `source_arn`, or None when it may."""

    def acting_as(self, role_arn: str) -> AbstractContextManager[None]:
        """AWS calls made inside are authorized as the role."""

    def may_invoke(self, role_arn: str, model_id: str) -> str | None:
        """Why the role may not invoke `model_id` (a model id, inference profile id or ARN), or None."""

    def as_service(self) -> AbstractContextManager[None]:
        """AWS calls made inside are Bedrock's own, as the service principal, not any caller's."""
