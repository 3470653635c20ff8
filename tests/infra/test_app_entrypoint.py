"""`app.py` as `make synth` and the CDK CLI run it: context overrides and configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.config import STACK_ID
from tests.infra.conftest import run_app

pytestmark = pytest.mark.infra


def test_invalid_context_stops_synth_with_one_message(tmp_path: Path) -> None:
    # Given `-c provisionedModelUnits=0`
    result = run_app(tmp_path, {"provisionedModelUnits": "0"})
    # Then synth stops, writes no template, and says which key is wrong
    assert result.returncode == 1
    assert "Invalid configuration: context key 'provisionedModelUnits'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / f"{STACK_ID}.template.json").exists()


def test_command_line_context_overrides_cdk_json(tmp_path: Path) -> None:
    # Given `-c invocationLogPrefix=team-a/logs`
    result = run_app(tmp_path, {"invocationLogPrefix": "team-a/logs"})
    assert result.returncode == 0, result.stderr
    # Then the bucket policy Bedrock writes through uses that prefix
    template = (tmp_path / f"{STACK_ID}.template.json").read_text()
    assert "/team-a/logs/AWSLogs/" in template
    assert "bedrock-invocation-logs" not in template
