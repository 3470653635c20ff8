"""The CDK app, synthesized once per test session (jsii start-up is slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from stacks.app_builder import build_app
from stacks.config import STACK_ID

REPO_ROOT = Path(__file__).resolve().parents[2]
# The deploy Region, as the CDK CLI would set it, for the session's app and for app.py run as a subprocess.
DEPLOY_REGION = "us-west-2"
os.environ["CDK_DEFAULT_REGION"] = DEPLOY_REGION
os.environ.pop("CDK_DEFAULT_ACCOUNT", None)


def default_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class CloudAssembly:
    outdir: Path
    template: dict[str, Any]
    context: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def asset_dir(self, logical_id: str) -> Path:
        """The staged directory behind a Lambda function's Code or a layer's Content."""
        properties = self.resources[logical_id]["Properties"]
        return self.staged_asset((properties.get("Code") or properties["Content"])["S3Key"])

    def staged_asset(self, object_key: str) -> Path:
        """The file or directory CDK staged for an asset, by the S3 key the template names."""
        manifest = json.loads((self.outdir / f"{STACK_ID}.assets.json").read_text())
        asset_hash = object_key.split(".", 1)[0]
        staged: str = manifest["files"][asset_hash]["source"]["path"]
        return self.outdir / staged

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}


def _synthesize(outdir: Path, *, acknowledge_findings: bool = True) -> App:
    app = App(outdir=str(outdir), context=default_context())
    build_app(app, acknowledge_findings=acknowledge_findings)
    return app


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> CloudAssembly:
    outdir = tmp_path_factory.mktemp("cdk.out")
    _synthesize(outdir).synth()
    template = json.loads((outdir / f"{STACK_ID}.template.json").read_text())
    return CloudAssembly(outdir=outdir, template=template, context=default_context())


@pytest.fixture(scope="session")
def unacknowledged_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, Path]:
    """The same app without our acknowledgements: what cdk-nag reports when nothing is waved through."""
    outdir = tmp_path_factory.mktemp("cdk.out.unacknowledged")
    return _synthesize(outdir, acknowledge_findings=False), outdir


def render(value: Any) -> Any:
    """A CloudFormation value as readable text: refs become ${Name}, joins are joined.

    Lets tests compare ARNs and conditions as the strings an operator would read.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{argument[0]}.{argument[1]}}}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(part)) for part in parts)
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def run_app(
    outdir: Path, context: Mapping[str, object], cdk_cli_variables: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`app.py` in its own process, as the CDK CLI runs it: `-c key=value` arrives as CDK_CONTEXT_JSON. With
    `cdk_cli_variables`, the CDK_DEFAULT_* variables are exactly those (the CLI sets them from its profile)."""
    environment = dict(os.environ)
    if cdk_cli_variables is not None:
        environment = {key: value for key, value in environment.items() if not key.startswith("CDK_DEFAULT_")}
        environment |= cdk_cli_variables
    environment |= {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(dict(context))}
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
