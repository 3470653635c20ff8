"""Hermetic defaults for every test: fake credentials, one Region, no tracing, quiet jsii."""

from __future__ import annotations

import os

# Set before any test module imports boto3, Powertools or jsii.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
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
