"""`distill` as a process: its version, its documented exit codes, and a reader that goes away."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from distill_cli import main as cli
from distill_cli.main import main

pytestmark = pytest.mark.unit


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    # When distill --version runs
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    # Then it prints the installed package's version and exits 0
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"distill {version('bedrock-distill')}\n"


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 valid", "1 invalid", "2 usage", "130 interrupted", "141 output pipe closed"):
        assert code in text


def test_ctrl_c_in_a_data_command_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a validation that the user interrupts
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "validate_dataset", interrupted)
    # Then distill exits 130 with one line
    assert main(["validate", str(tmp_path / "any.jsonl")]) == 130
    assert capsys.readouterr().err == "distill: interrupted\n"


def test_a_closed_pipe_ends_distill_quietly(tmp_path: Path) -> None:
    # Given a dataset whose validation prints a line per record, and a reader that has gone away
    # (as `distill validate FILE | head -1` leaves it once head has its line)
    dataset = tmp_path / "big.jsonl"
    record = '{{"schemaVersion": "bedrock-conversation-2024", "n{index}": 1}}\n'
    dataset.write_text("".join(record.format(index=index) for index in range(2000)))
    process = subprocess.Popen(
        [sys.executable, "-m", "distill_cli.main", "validate", str(dataset)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    # Then distill stops quietly: no traceback, exit 141 (128 + SIGPIPE, as a shell reports it)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, stderr
    assert stderr == ""
