"""The demo's process environment: set by `python -m offline.demo` before boto3, moto or Powertools is imported.

The demo must never reach a real account, whatever the shell holds, and the handlers' JSON logs and metrics
would drown the live view. In-process callers (the e2e test) bring their own hermetic environment instead.
"""

from __future__ import annotations

import os

FORCED = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-west-2",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "bedrock-distill-demo",
    "POWERTOOLS_METRICS_NAMESPACE": "bedrock-distill-demo",
}
# Whatever would point boto3 at a profile or a role: a real account.
REMOVED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def isolate() -> None:
    """Fake credentials and no profile, always; the demo's Region and quiet Powertools unless the shell sets them."""
    os.environ.update(FORCED)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    for name in REMOVED:
        os.environ.pop(name, None)
