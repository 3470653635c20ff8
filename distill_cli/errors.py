"""The one error the operator commands raise for the user: a single line saying what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

NO_REGION: Final = (
    "no AWS Region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or give the profile a region "
    "(aws configure set region REGION)"
)
NO_CREDENTIALS: Final = (
    "no AWS credentials found: pass --profile, set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "or run `aws configure` (or `aws sso login`)"
)


class OperatorError(Exception):
    """The command cannot go on: a missing stack or output, bad arguments, an AWS error (exit code 2)."""


@contextmanager
def aws_errors(context: str) -> Iterator[None]:
    """Turns botocore's many failure types into one OperatorError naming what was being done."""
    from botocore.exceptions import (  # noqa: PLC0415 - botocore loads on first AWS use only
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    try:
        yield
    except NoCredentialsError as error:
        raise OperatorError(f"{context}: {NO_CREDENTIALS}") from error
    except NoRegionError as error:
        raise OperatorError(f"{context}: {NO_REGION}") from error
    except ProfileNotFound as error:
        raise OperatorError(f"{context}: {error}") from error
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "Error")
        message = details.get("Message") or str(error)
        raise OperatorError(f"{context}: {code}: {message}") from error
    except BotoCoreError as error:
        raise OperatorError(f"{context}: {error}") from error
