"""Hermetic defaults for every test: fake credentials, one Region, no tracing, quiet jsii."""

from __future__ import annotations

import os

import pytest

# Set before any test module imports boto3, Powertools or jsii.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # Both, as a user following the AWS CLI's guide and Lambda's runtime have them: boto3 reads
        # AWS_DEFAULT_REGION, the AWS CLI v2, the other SDKs and `distill` read AWS_REGION first.
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bedrock-distill-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "bedrock-distill-tests",
        # Node 20 works; silence jsii's end-of-life banner so test output stays readable.
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_PROFILE", None)

PREVIOUS_LOGGING_PARAMETER = "/bedrock-distill/tests/previous-invocation-logging-configuration"
os.environ["PREVIOUS_CONFIGURATION_PARAMETER"] = PREVIOUS_LOGGING_PARAMETER

# Before any test creates a boto3 client: the offline IAM enforcer's botocore hook is registered at import and
# reaches only clients created afterwards (handlers keep theirs for the whole session, as a warm Lambda does).
import offline.iam.enforcer  # noqa: E402, F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The grant audit judges the calls of every other workflow test, so it runs after them."""
    items.sort(key=lambda item: item.get_closest_marker("grant_audit") is not None)
