"""`app.py` as `make synth` and the CDK CLI run it: context overrides and configuration errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.config import STACK_ID
from tests.infra.conftest import REPO_ROOT

pytestmark = pytest.mark.infra


def _run_app(outdir: Path, cli_context: dict[str, object]) -> subprocess.CompletedProcess[str]:
    # The CDK CLI hands `-c key=value` to the app as CDK_CONTEXT_JSON; no CLI or credentials needed here.
    environment = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(cli_context)}
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_invalid_context_stops_synth_with_one_message(tmp_path: Path) -> None:
    # Given `-c provisionedModelUnits=0`
    result = _run_app(tmp_path, {"provisionedModelUnits": "0"})
    # Then synth stops, writes no template, and says which key is wrong
    assert result.returncode == 1
    assert "Invalid configuration: context key 'provisionedModelUnits'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / f"{STACK_ID}.template.json").exists()


def test_command_line_context_overrides_cdk_json(tmp_path: Path) -> None:
    # Given `-c invocationLogPrefix=team-a/logs`
    result = _run_app(tmp_path, {"invocationLogPrefix": "team-a/logs"})
    assert result.returncode == 0, result.stderr
    # Then the bucket policy Bedrock writes through uses that prefix
    template = (tmp_path / f"{STACK_ID}.template.json").read_text()
    assert "/team-a/logs/AWSLogs/" in template
    assert "bedrock-invocation-logs" not in template
