"""The one error the operator commands raise for the user, and how the runtime's named errors read at the CLI's
edge: a single line saying what to do."""

from __future__ import annotations

from typing import Final

from bedrock_distill.workflow.errors import WorkflowError

NO_REGION: Final = (
    "no AWS Region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or give the profile a region "
    "(aws configure set region REGION)"
)
NO_CREDENTIALS: Final = (
    "no AWS credentials found: pass --profile, set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "or run `aws configure` (or `aws sso login`)"
)


class OperatorError(Exception):
    """The command cannot go on: a missing stack or output, bad arguments (exit code 2)."""


def explained(error: WorkflowError) -> str:
    """A named error from the runtime's gateways as one line for the user: what to do when AWS is not set up."""
    hint = _HINTS.get(error.code)
    if hint is None:
        return str(error)
    operation = str(error).split(":", 1)[0]
    return f"{operation}: {hint}"


_HINTS: Final = {"NoRegionError": NO_REGION, "NoCredentialsError": NO_CREDENTIALS}
