"""Files that are not bedrock-conversation-2024 JSONL get one problem naming their format and the fix;
a problem repeated on many lines is shown a few times, then summarized, with every repeat counted."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.preflight import Problem, Severity, validate_dataset
from bedrock_distill.preflight.file_format import FileFormat, recognize_file_format
from bedrock_distill.preflight.problems import REPEATS_SHOWN, ProblemLog
from bedrock_distill.workflow import preflight
from bedrock_distill.workflow.errors import PreflightFailed
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, Run, plan_run
from distill_cli.main import main
from tests.unit.preflight.conftest import conversation, valid_lines, write_jsonl
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

RECORDS = 150


def _records() -> list[dict[str, Any]]:
    return [conversation(f"Qu'est-ce qu'un café numéro {index}?", f"Réponse {index}.") for index in range(RECORDS)]


def _jsonl_text(records: list[dict[str, Any]], newline: str = "\n") -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + newline for record in records)


def prompt_completion_lines(count: int) -> list[bytes]:
    """The shape of AWS's sample data for distillation: one {"prompt", "completion"} object per line."""
    return [
        orjson.dumps(
            {
                "prompt": f"Summarize the following support ticket #{index} in one sentence: the customer "
                "cannot sign in after resetting their password.",
                "completion": f"Ticket #{index}: sign-in fails after a password reset.",
            }
        )
        for index in range(count)
    ]


def _openai_chat_lines() -> list[bytes]:
    return [
        orjson.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are concise."},
                    {"role": "user", "content": f"question {index}?"},
                    {"role": "assistant", "content": f"answer {index}."},
                ]
            }
        )
        for index in range(RECORDS)
    ]


FILE_FORMATS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    # name: (file contents, the format as the problem names it, the fix it gives)
    "gzip": (lambda: gzip.compress(_jsonl_text(_records()).encode()), "gzip-compressed", "gunzip -c"),
    "UTF-16 with BOM": (
        lambda: _jsonl_text(_records()).encode("utf-16"),
        "UTF-16 (little-endian)",
        "iconv -f UTF-16LE",
    ),
    "UTF-16BE with BOM": (
        lambda: b"\xfe\xff" + _jsonl_text(_records()).encode("utf-16-be"),
        "UTF-16 (big-endian)",
        "iconv -f UTF-16BE",
    ),
    "UTF-16 without BOM": (
        lambda: _jsonl_text(_records()).encode("utf-16-le"),
        "UTF-16 (little-endian)",
        "iconv -f UTF-16LE",
    ),
    "UTF-32": (lambda: _jsonl_text(_records()).encode("utf-32"), "UTF-32 (little-endian)", "iconv -f UTF-32LE"),
    "Latin-1": (lambda: _jsonl_text(_records()).encode("latin-1"), "not UTF-8", "iconv -f WINDOWS-1252 -t UTF-8"),
    "CR-only": (lambda: _jsonl_text(_records(), "\r").encode(), "CR only", "tr '\\r' '\\n'"),
    "pretty-printed array": (lambda: json.dumps(_records(), indent=2).encode(), "one JSON array", "jq -c '.[]'"),
    "one-line array": (lambda: json.dumps(_records()).encode() + b"\n", "one JSON array", "jq -c '.[]'"),
    "pretty-printed objects": (
        lambda: "\n".join(json.dumps(record, indent=2) for record in _records()).encode(),
        "pretty-printed JSON",
        "jq -c .",
    ),
    "prompt/completion": (
        lambda: b"\n".join(prompt_completion_lines(RECORDS)) + b"\n",
        "prompt/completion JSONL",
        "distill convert {path} --from prompt-completion",
    ),
    "OpenAI chat": (
        lambda: b"\n".join(_openai_chat_lines()) + b"\n",
        "OpenAI chat-format JSONL",
        "distill convert {path} --from openai-chat",
    ),
    "CSV": (
        lambda: (
            b"prompt,completion\n" + b"".join(b'"question %d, please?","answer %d."\n' % (i, i) for i in range(RECORDS))
        ),
        "CSV with a header row (columns: prompt, completion)",
        "distill convert {path} --from csv",
    ),
}


@pytest.mark.parametrize("name", sorted(FILE_FORMATS))
def test_a_file_in_another_format_gets_one_problem_naming_the_format_and_the_fix(tmp_path: Path, name: str) -> None:
    # Given a file of 150 records in another format
    contents, format_named, fix = FILE_FORMATS[name]
    path = tmp_path / "data.jsonl"
    path.write_bytes(contents())

    # When it is validated
    report = validate_dataset(str(path))

    # Then there is exactly one problem, on line 1 for the whole file, naming the format and the fix
    assert [(p.line, p.field, p.severity) for p in report.problems] == [(1, "(file)", Severity.ERROR)], name
    reason = report.problems[0].reason
    assert format_named in reason
    assert fix.format(path=path) in reason
    assert (report.errors, report.warnings, report.is_valid) == (1, 0, False)
    assert [reason.split(" (")[0] for reason in report.verdict_reasons] == ["not bedrock-conversation-2024 JSONL"]


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(_jsonl_text(_records()).encode(), id="valid-utf8"),
        pytest.param(_jsonl_text(_records(), "\r\n").encode(), id="crlf-line-endings"),
        pytest.param(b"\xef\xbb\xbf" + _jsonl_text(_records()).encode(), id="utf8-bom"),
        pytest.param(
            _jsonl_text(_records()).encode().replace("café".encode(), "caf\xe9".encode("latin-1"), 1),
            id="one-latin1-line",
        ),
        pytest.param(
            _jsonl_text([{k: v for k, v in record.items() if k != "schemaVersion"} for record in _records()]).encode(),
            id="bedrock-records-without-schemaVersion",
        ),
        pytest.param(b"What is 2 + 2, roughly?\nName three colours.\n", id="text-prompts-with-a-comma"),
        pytest.param(b"Summarize this, briefly\nName three colours\n", id="text-prompts-with-a-comma-between-words"),
    ],
)
def test_jsonl_records_with_line_level_mistakes_are_still_checked_line_by_line(tmp_path: Path, lines: bytes) -> None:
    # Given records in the right file format, possibly with mistakes on some lines
    path = tmp_path / "data.jsonl"
    path.write_bytes(lines)

    # When it is validated, Then no file-level format problem hides the line-level checks
    report = validate_dataset(str(path))
    assert not [p for p in report.problems if p.field == "(file)" and p.line == 1]
    assert report.records > 0


@settings(max_examples=300, deadline=None)
@given(
    head=st.binary(max_size=2048) | st.sampled_from([b"a\rb,c\nd,e\n", b"[" * 5000, b'{"prompt"\n{']),
    whole=st.booleans(),
)
def test_any_head_is_recognized_or_not_without_raising(head: bytes, whole: bool) -> None:
    # Given any bytes at the start of a file, When its format is recognized, Then the answer is a format or None
    recognized = recognize_file_format(head, "data.jsonl", whole_file=whole)
    assert recognized is None or isinstance(recognized, FileFormat)


def test_aws_prompt_completion_sample_gets_a_handful_of_lines_naming_the_format_and_distill_convert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 200 lines in the shape of AWS's own prompt/completion sample data
    path = write_jsonl(tmp_path / "sample.jsonl", prompt_completion_lines(200))

    # When distill validate reads it
    code = main(["validate", path])

    # Then a handful of lines: one problem that names the format and `distill convert`, the summary and the verdict
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(out) <= 6
    problems = [line for line in out if line.startswith(f"{path}:") and not line.startswith(f"{path}: ")]
    assert problems == [
        f"{path}:1: (file): the file is prompt/completion JSONL "
        '({"prompt": ..., "completion": ...}), not bedrock-conversation-2024: convert it, keeping each completion '
        f"as the golden answer (distill convert {path} --from prompt-completion)"
    ]
    assert "errors: 1, warnings: 0" in "\n".join(out)


# --- Repeated problems ----------------------------------------------------------------------------------


def _without_schema_version(count: int) -> list[bytes]:
    return [orjson.dumps({"messages": conversation(f"q{index}?")["messages"]}) for index in range(count)]


def test_a_problem_repeated_on_every_line_is_shown_three_times_then_summarized(tmp_path: Path) -> None:
    # Given 150 records that all lack schemaVersion
    path = write_jsonl(tmp_path / "data.jsonl", _without_schema_version(RECORDS))
    streamed: list[Problem] = []

    # When it is validated with repeats summarized
    report = validate_dataset(path, on_problem=streamed.append, repeats_shown=REPEATS_SHOWN)

    # Then lines 1-3 are shown, one line stands for the other 147, and the counts keep all 150
    missing = [p for p in report.problems if p.field == "schemaVersion"]
    assert [(p.line, p.omitted) for p in missing] == [(1, 0), (2, 0), (3, 0), (4, 147)]
    assert missing[-1].reason == "... and 147 more lines with this problem (lines 4-150)"
    assert missing[-1].render() == f"{path}:4: schemaVersion: ... and 147 more lines with this problem (lines 4-150)"
    assert missing[-1].to_dict()["omitted"] == 147
    assert streamed == report.problems
    assert report.errors == RECORDS + 1  # and "only 0 valid records"
    assert (report.records, report.invalid) == (RECORDS, RECORDS)
    assert not report.problems_truncated


def test_without_summarizing_every_repeat_is_passed_on(tmp_path: Path) -> None:
    # Given the same file, When it is validated as a library caller that counts lines does
    path = write_jsonl(tmp_path / "data.jsonl", _without_schema_version(RECORDS))
    report = validate_dataset(path)

    # Then every line's problem is there
    assert len([p for p in report.problems if p.field == "schemaVersion"]) == RECORDS


def test_distinct_problems_are_each_summarized_and_the_kept_cap_still_counts_everything() -> None:
    # Given a log that keeps 5 problems and summarizes after 2 repeats
    log = ProblemLog(keep=5, repeats_shown=2)

    # When two problems repeat on 4 lines each and a warning appears once
    for line in range(1, 5):
        log.add(Problem("f", line, "a", "bad a"))
        log.add(Problem("f", line, "b", "bad b"))
    log.add(Problem("f", 9, "c", "odd", Severity.WARNING))
    log.finish()

    # Then 2 of each are kept, then the warning, and the summaries beyond the cap are counted as not shown
    assert [(p.field, p.line, p.omitted) for p in log.kept] == [
        ("a", 1, 0),
        ("b", 1, 0),
        ("a", 2, 0),
        ("b", 2, 0),
        ("c", 9, 0),
    ]
    assert (log.errors, log.warnings) == (8, 1)
    assert log.truncated


def test_distill_validate_summarizes_repeats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given 150 records without schemaVersion, When distill validate reads them
    path = write_jsonl(tmp_path / "data.jsonl", _without_schema_version(RECORDS))
    code = main(["validate", path])

    # Then three lines, one summary line, the whole-file problem and the summary; the error count is all of them
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line for line in out if ": schemaVersion: " in line] == [
        f"{path}:1: schemaVersion: missing; must be 'bedrock-conversation-2024'",
        f"{path}:2: schemaVersion: missing; must be 'bedrock-conversation-2024'",
        f"{path}:3: schemaVersion: missing; must be 'bedrock-conversation-2024'",
        f"{path}:4: schemaVersion: ... and 147 more lines with this problem (lines 4-150)",
    ]
    assert f"  errors: {RECORDS + 1}, warnings: 0" in out


# --- The Preflight Lambda ---------------------------------------------------------------------------------

DATASET_BUCKET = "inputs"
DATASET = f"s3://{DATASET_BUCKET}/datasets/prompts.jsonl"


@pytest.fixture
def run() -> Iterator[Run]:
    with mock_aws():
        for bucket in ("outputs", DATASET_BUCKET):
            boto3.client("s3").create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
            )
        execution = ExecutionContext(
            id="arn:aws:states:us-west-2:123456789012:execution:distillation:run-1", name="run-1"
        )
        document = {"trainingData": {"prompts": DATASET}}  # validation prompts held out of these
        yield plan_run(ExecutionInput.model_validate(document), execution, pipeline_settings())


def _upload(lines: list[bytes]) -> None:
    boto3.client("s3").put_object(
        Bucket=DATASET_BUCKET, Key="datasets/prompts.jsonl", Body=b"".join(line + b"\n" for line in lines)
    )


def _report(run: Run) -> dict[str, Any]:
    bucket, _, prefix = run.report_s3_uri.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/preflight.json"
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def test_preflight_names_the_format_of_prompt_completion_data_in_one_problem(run: Run) -> None:
    # Given AWS's prompt/completion sample shape uploaded as the training prompts
    _upload(prompt_completion_lines(200))

    # When Preflight runs, Then it fails naming the format and distill convert (the location is FILE: it is in S3)
    with pytest.raises(PreflightFailed) as failed:
        preflight.run_preflight(run, S3Gateway())
    cause = str(failed.value)
    assert "prompt/completion JSONL" in cause
    assert "distill convert FILE --from prompt-completion" in cause
    problems = _report(run)["trainingData"]["problems"]
    assert [(p["path"], p["line"], p["field"]) for p in problems] == [(DATASET, 1, "(file)")]


def test_preflight_summarizes_repeats_and_counts_every_one(run: Run) -> None:
    # Given 150 records without schemaVersion
    _upload(_without_schema_version(RECORDS))

    # When Preflight runs
    with pytest.raises(PreflightFailed) as failed:
        preflight.run_preflight(run, S3Gateway())

    # Then the cause counts all 150 line problems, the whole-file one, the 2 verdict reasons and the hold-out
    # one, but lists the line problem 3 times and then one summary line
    cause = str(failed.value)
    assert cause.startswith(f"{RECORDS + 4} problem(s); full report: ")
    assert cause.count("schemaVersion: missing") == REPEATS_SHOWN
    assert f"{DATASET}:4: schemaVersion: ... and 147 more lines with this problem (lines 4-150)" in cause
    report = _report(run)
    assert report["trainingData"]["errors"] == RECORDS + 1
    assert report["trainingData"]["problems_truncated"] is False


# --- Turn counting --------------------------------------------------------------------------------------


def test_a_repeated_assistant_turn_is_a_role_problem_not_two_user_turns(tmp_path: Path) -> None:
    # Given a [user, assistant, assistant] record after two valid ones
    record = conversation("q?", "a.")
    record["messages"].append({"role": "assistant", "content": [{"text": "again."}]})
    path = write_jsonl(tmp_path / "data.jsonl", [*valid_lines(2), orjson.dumps(record)])

    # When it is validated for a single-turn student
    report = validate_dataset(path, "meta.llama3-1-8b-instruct-v1:0")

    # Then line 3 has the role problem only: one user turn is not a multi-turn record
    assert [(p.field, p.reason) for p in report.problems if p.line == 3] == [
        (
            "messages[2].role",
            "roles must alternate user/assistant: expected 'user' after 'assistant', got 'assistant'",
        )
    ]


def test_two_user_turns_among_broken_roles_are_counted_as_two(tmp_path: Path) -> None:
    # Given [user, user, assistant, user]: three user turns, and a role problem
    record = conversation("a?", "b?", "c.", "d?")
    record["messages"][1]["role"] = "user"
    record["messages"][2]["role"] = "assistant"
    record["messages"][3]["role"] = "user"
    path = write_jsonl(tmp_path / "data.jsonl", [*valid_lines(2), orjson.dumps(record)])

    # When it is validated for a single-turn student, Then the turn count is the real one
    reasons = [p.reason for p in validate_dataset(path, "meta.llama3-1-8b-instruct-v1:0").problems if p.line == 3]
    assert any(reason.startswith("3 user turns") for reason in reasons), reasons
