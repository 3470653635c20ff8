"""The distill command line: output shapes and exit codes (0 valid, 1 invalid, 2 usage or I/O error)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from distill_cli.main import main
from tests.unit.preflight.conftest import conversation, log_record, valid_lines, write_jsonl, write_log_file

pytestmark = pytest.mark.unit


@pytest.fixture
def valid_dataset(tmp_path: Path) -> str:
    return write_jsonl(tmp_path / "train.jsonl", valid_lines(100))


@pytest.fixture
def invalid_dataset(tmp_path: Path) -> str:
    lines = valid_lines(100)
    lines[41] = orjson.dumps(conversation("hi?", system=" "))
    return write_jsonl(tmp_path / "bad.jsonl", lines)


def test_validate_a_valid_file_prints_the_summary_and_exits_0(
    valid_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a valid dataset is validated
    code = main(["validate", valid_dataset, "--student", "amazon.nova-lite-v1:0"])

    # Then it exits 0 and the summary gives the counts and the verdict
    out = capsys.readouterr().out
    assert code == 0
    assert f"{valid_dataset}: 100 records, 100 valid, 0 invalid" in out
    assert "single-turn: 100, multi-turn: 0, with golden answers: 100, duplicate prompts: 0" in out
    assert "estimated input tokens:" in out
    assert out.rstrip().endswith("verdict: valid")


def test_validate_prints_each_problem_as_path_line_field_reason_and_exits_1(
    invalid_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a dataset with one bad record on line 42 is validated
    code = main(["validate", invalid_dataset])

    # Then the problem is one line in the documented shape, and the exit code is 1
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == f"{invalid_dataset}:42: system[0].text: empty or whitespace-only text"
    assert out[-1] == "verdict: invalid (1 invalid records; fewer than 100 valid records (99))"


def test_validate_json_is_one_object(invalid_dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    # When --json is given
    code = main(["validate", invalid_dataset, "--json"])

    # Then stdout is exactly one JSON object with the summary and the problems
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {key: report[key] for key in ("records", "valid", "invalid", "verdict")} == {
        "records": 100,
        "valid": 99,
        "invalid": 1,
        "verdict": "invalid",
    }
    assert report["problems"][0]["line"] == 42


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["validate", "{tmp}/missing.jsonl"], "{tmp}/missing.jsonl: no such file", id="missing-file"),
        pytest.param(["validate", "{tmp}"], "is a directory", id="directory"),
        pytest.param(["logs", "scan", "--source", "{tmp}/none"], "{tmp}/none: no such directory", id="no-logs"),
        pytest.param(["filter", "check", "{tmp}/none.json"], "{tmp}/none.json: no such file", id="no-filter"),
    ],
)
def test_io_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # When the input cannot be read
    code = main([arg.format(tmp=tmp_path) for arg in argv])

    # Then one line on stderr says why, without a traceback, and the exit code is 2
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("distill: ")
    assert message.format(tmp=tmp_path) in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-command"),
        pytest.param(["validate"], id="no-path"),
        pytest.param(["filter"], id="no-action"),
        pytest.param(["logs", "scan"], id="no-source"),
        pytest.param(["logs", "scan", "--source", ".", "--use-prompt-response"], id="pairs-without-teacher"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_filter_check_accepts_inline_json_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a valid filter inline and an invalid one in a file
    good = '{"andAll": [{"equals": {"project": "alpha"}}, {"notEquals": {"stage": "test"}}]}'
    bad = tmp_path / "filter.json"
    bad.write_text('{"andAll": [{"equals": {"priority": "High"}, "equals": {"project": "CS"}}]}')

    # When each is checked
    good_code = main(["filter", "check", good])
    good_out = capsys.readouterr().out
    bad_code = main(["filter", "check", str(bad)])
    bad_out = capsys.readouterr().out.splitlines()

    # Then the good one exits 0 and the bad one names the repeated key and exits 1
    assert (good_code, good_out) == (0, "verdict: valid\n")
    assert bad_code == 1
    assert bad_out[0].startswith(f"{bad}:1: andAll[0].equals: duplicate key")


def test_filter_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["filter", "check", '{"equals": {"a": "1", "b": "2"}}', "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert result["violations"] == [{"field": "equals", "reason": "must hold exactly one key-value entry, got 2"}]


def test_logs_scan_summary_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given 100 alpha and 5 beta records
    records = [log_record(f"p{i}") for i in range(100)]
    records += [log_record(f"b{i}", metadata={"project": "beta"}) for i in range(5)]
    write_log_file(tmp_path, "a.json.gz", records)

    # When scanned with a filter that keeps alpha, and one that keeps beta
    alpha = main(["logs", "scan", "--source", str(tmp_path), "--filter", '{"equals": {"project": "alpha"}}'])
    alpha_out = capsys.readouterr().out
    beta = main(["logs", "scan", "--source", str(tmp_path), "--filter", '{"equals": {"project": "beta"}}', "--json"])
    beta_report = json.loads(capsys.readouterr().out)

    # Then alpha is enough (exit 0) and beta is too few (exit 1, saying which)
    assert alpha == 0
    assert "records: 105, matching the filter: 100, not matching: 5" in alpha_out
    assert "the job would use 100 prompts" in alpha_out
    assert beta == 1
    assert beta_report["used"] == 5
    assert beta_report["verdict_reasons"] == [
        "fewer than 100 usable prompts match (5); distillation needs at least 100"
    ]


def test_logs_scan_with_an_invalid_filter_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["logs", "scan", "--source", str(tmp_path), "--filter", '{"equals": {}}'])
    assert code == 2
    assert "--filter <argument>: equals: must hold exactly one key-value entry, got 0" in capsys.readouterr().err


def test_installed_console_script_runs(valid_dataset: str, invalid_dataset: str) -> None:
    # Given the distill script installed beside this interpreter
    distill = Path(sys.executable).with_name("distill")

    # When it is run as a process on a valid and an invalid dataset
    valid = subprocess.run([str(distill), "validate", valid_dataset], capture_output=True, text=True, check=False)
    invalid = subprocess.run([str(distill), "validate", invalid_dataset], capture_output=True, text=True, check=False)

    # Then its exit codes and output are those of main()
    assert (valid.returncode, invalid.returncode) == (0, 1)
    assert valid.stdout.rstrip().endswith("verdict: valid")
    assert f"{invalid_dataset}:42: system[0].text:" in invalid.stdout


def test_validate_refuses_a_student_that_is_no_distillation_student(
    valid_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a typo in --student, which would otherwise turn the single-turn check off silently
    code = main(["validate", valid_dataset, "--student", "meta.llama3-1-8b-instrct-v1:0"])
    # Then it is a usage error naming the known students, and nothing is validated
    captured = capsys.readouterr()
    assert code == 2
    assert "--student: 'meta.llama3-1-8b-instrct-v1:0' is not a distillation student" in captured.err
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in captured.err
    assert captured.out == ""
