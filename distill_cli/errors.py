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


# The exit codes of every command: 0 done (valid), 1 problems found (invalid data, a failed check), 2 usage or I/O
# error (argparse uses 2 for its own usage errors too), and what a shell reports for Ctrl-C and a closed pipe.
EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1
EXIT_USAGE_OR_IO: Final = 2
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT
EXIT_CLOSED_PIPE: Final = 141  # 128 + SIGPIPE


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
