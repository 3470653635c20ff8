"""The CDK app synthesized in-process, as `cdk deploy` would upload it, for the offline world to deploy.

Path metadata is on (as the CDK CLI turns it on) so the offline world finds resources by construct path.
Each configuration is synthesized once per process: jsii's start-up and the synth take seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from stacks.config import STACK_ID

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"
# The context key the CDK CLI sets to write `aws:cdk:path` metadata (cx-api PATH_METADATA_ENABLE_CONTEXT).
PATH_METADATA_CONTEXT = "aws:cdk:enable-path-metadata"


def default_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


@contextmanager
def _cdk_environment(region: str, account: str) -> Iterator[None]:
    """CDK_DEFAULT_REGION/ACCOUNT as the CDK CLI sets them from the caller's profile."""
    variables = {
        "CDK_DEFAULT_REGION": region,
        "CDK_DEFAULT_ACCOUNT": account,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def synthesize(region: str, account: str, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stack's template for this Region, account and context (cdk.json's, overridden by `context`)."""
    return json.loads(_synthesize(region, account, json.dumps(dict(context or {}), sort_keys=True)))  # type: ignore[no-any-return]


@cache
def _synthesize(region: str, account: str, context_json: str) -> str:
    from aws_cdk import App  # noqa: PLC0415 - jsii starts only for the offline world that needs a template

    from stacks.app_builder import build_app  # noqa: PLC0415

    context = {**default_context(), **json.loads(context_json), PATH_METADATA_CONTEXT: True}
    with tempfile.TemporaryDirectory(prefix="bedrock-distill-synth-") as outdir, _cdk_environment(region, account):
        app = App(context=context, outdir=outdir)
        build_app(app)
        template = app.synth().get_stack_by_name(STACK_ID).template
    return json.dumps(template)
