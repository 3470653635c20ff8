"""distill validate, as a library: every rejection, located by line, field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from bedrock_distill.preflight import Severity, SourceError, validate_dataset
from bedrock_distill.preflight.dataset import MAX_RECORD_BYTES, MAX_RECORDS, RecordChecker
from tests.unit.preflight.conftest import BUCKET, conversation, valid_lines, write_jsonl

pytestmark = pytest.mark.unit

BAD_LINE = 3  # every rejection case is written after two valid records


def _line(record: object) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def _with_text(text: str) -> bytes:
    """A record whose user text is given as raw JSON string content (escapes kept as written)."""
    return b'{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":"' + (
        text.encode() + b'"}]}]}'
    )


REJECTIONS = [
    pytest.param(b'{"schemaVersion": "bedrock-conversation-2024", ', "$", "not valid JSON", id="not-json"),
    pytest.param(b'["a", "list"]', "$", "must be a JSON object, got array", id="not-an-object"),
    pytest.param(b'"a string"', "$", "must be a JSON object, got string", id="a-string"),
    pytest.param(b"\xef\xbb\xbf" + _line(conversation("hi?")), "$", "byte order mark", id="utf8-bom"),
    pytest.param(_with_text("caf") + b"\xe9", "$", "invalid UTF-8 at byte", id="invalid-utf8"),
    pytest.param(_with_text("x").replace(b'"x"', b'"\xed\xa0\x80"'), "$", "invalid UTF-8", id="encoded-surrogate"),
    pytest.param(
        b'{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","role":"user",'
        b'"content":[{"text":"hi"}]}]}',
        "messages[0].role",
        "duplicate key",
        id="duplicate-key",
    ),
    pytest.param(
        b'{"schemaVersion" : "bedrock-conversation-2024", "schemaVersion" : "bedrock-conversation-2024",'
        b' "messages":[{"role":"user","content":[{"text":"hi"}]}]}',
        "schemaVersion",
        "duplicate key",
        id="duplicate-key-spaced-colon",
    ),
    pytest.param(
        b'{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":NaN}]}]}',
        "messages[0].content[0].text",
        "NaN is not valid JSON",
        id="nan",
    ),
    pytest.param(
        b'{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":-Infinity}]}]}',
        "messages[0].content[0].text",
        "-Infinity is not valid JSON",
        id="infinity",
    ),
    pytest.param(
        b'{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":1e999}]}]}',
        "messages[0].content[0].text",
        "1e999 is not valid JSON",
        id="overflowing-number",
    ),
    # How deep the standard library parses depends on the Python (3.11: ~1,000 levels, 3.13: several thousand);
    # the verdict must not. 1,025 is one past orjson's limit; 1,000 objects pass orjson and reach the key check.
    pytest.param(b'{"messages":' + b"[" * 1025 + b"]" * 1025 + b"}", "$", "nested too deeply", id="deep-arrays"),
    pytest.param(b'{"a":' * 1000 + b"1" + b"}" * 1000, "$", "nested too deeply", id="deep-objects"),
    pytest.param(b'{"messages":' + b"[" * 5000 + b"]" * 5000 + b"}", "$", "nested too deeply", id="deeper-arrays"),
    pytest.param(_line({"messages": conversation("hi?")["messages"]}), "schemaVersion", "missing", id="no-schema"),
    pytest.param(
        _line(conversation("hi?", schema="bedrock-conversion-2024")),
        "schemaVersion",
        "typo copied from the Bedrock user guide",
        id="documented-typo",
    ),
    pytest.param(
        _line(conversation("hi?", schema="bedrock-conversation-2023")),
        "schemaVersion",
        "must be exactly 'bedrock-conversation-2024'",
        id="wrong-schema",
    ),
    pytest.param(
        _line({**conversation("hi?"), "metadata": {"a": 1}}), "metadata", "unknown top-level field", id="unknown-field"
    ),
    pytest.param(_line({**conversation("hi?"), "system": "Be brief."}), "system", "got string", id="system-string"),
    pytest.param(
        _line({**conversation("hi?"), "system": [{"text": "a"}, {"text": "b"}]}),
        "system",
        "got a list of 2",
        id="system-two-blocks",
    ),
    pytest.param(
        _line({**conversation("hi?"), "system": [{"text": "a", "cachePoint": {}}]}),
        "system[0].cachePoint",
        'only {"text": ...} blocks',
        id="system-extra-field",
    ),
    pytest.param(_line({"schemaVersion": "bedrock-conversation-2024"}), "messages", "missing", id="no-messages"),
    pytest.param(_line(conversation()), "messages", "empty", id="empty-messages"),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}),
        "messages[0].role",
        "must start with a user turn",
        id="starts-with-assistant",
    ),
    pytest.param(
        _line(
            {
                **conversation("x"),
                "messages": [
                    {"role": "user", "content": [{"text": "one"}]},
                    {"role": "user", "content": [{"text": "two"}]},
                ],
            }
        ),
        "messages[1].role",
        "roles must alternate",
        id="not-alternating",
    ),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "User", "content": [{"text": "hi"}]}]}),
        "messages[0].role",
        "case-sensitive",
        id="role-case",
    ),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "system", "content": [{"text": "hi"}]}]}),
        "messages[0].role",
        "must be 'user' or 'assistant', got 'system'",
        id="unknown-role",
    ),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "user", "content": "hi"}]}),
        "messages[0].content",
        "must be a list of exactly one",
        id="content-string",
    ),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]}),
        "messages[0].content",
        "got a list of 2",
        id="content-two-blocks",
    ),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "user", "content": [{"image": {"format": "png"}}]}]}),
        "messages[0].content[0].image",
        'only {"text": ...} blocks',
        id="image-block",
    ),
    pytest.param(
        _line({**conversation("x"), "messages": [{"role": "user", "content": [{"text": 42}]}]}),
        "messages[0].content[0].text",
        "must be a string, got number",
        id="text-not-string",
    ),
    pytest.param(_line(conversation("")), "messages[0].content[0].text", "empty or whitespace-only", id="empty-text"),
    pytest.param(
        _line(conversation("hi?", " \n\t ")),
        "messages[1].content[0].text",
        "empty or whitespace-only",
        id="whitespace-text",
    ),
    pytest.param(
        _line(conversation("hi?", system="  ")), "system[0].text", "empty or whitespace-only", id="blank-system"
    ),
    pytest.param(_with_text("bell\\u0007"), "messages[0].content[0].text", "U+0007 at character 4", id="escaped-c0"),
    pytest.param(_with_text("back\\bspace"), "messages[0].content[0].text", "U+0008", id="backspace-escape"),
    pytest.param(_with_text("form\\ffeed"), "messages[0].content[0].text", "U+000C", id="formfeed-escape"),
    pytest.param(_with_text("del\x7f"), "messages[0].content[0].text", "U+007F", id="raw-del"),
    pytest.param(_with_text("c1\u0085"), "messages[0].content[0].text", "U+0085", id="raw-c1"),
    pytest.param(
        _with_text("half \\ud83d pair"), "messages[0].content[0].text", "lone surrogate U+D83D", id="lone-high"
    ),
    pytest.param(_with_text("\\udc00"), "messages[0].content[0].text", "lone surrogate U+DC00", id="lone-low"),
    pytest.param(
        _line(conversation("x" * (MAX_RECORD_BYTES + 1))), "$", f"the limit is {MAX_RECORD_BYTES:,} bytes", id="too-big"
    ),
]


@pytest.mark.parametrize(("raw", "field", "reason"), REJECTIONS)
def test_each_rejection_names_its_line_field_and_reason(tmp_path: Path, raw: bytes, field: str, reason: str) -> None:
    # Given two valid records and then one bad record on line 3
    path = write_jsonl(tmp_path / "data.jsonl", [*valid_lines(2), raw])

    # When the file is validated
    report = validate_dataset(path)

    # Then the bad line is reported with its field and reason, and counted invalid
    on_bad_line = [(p.field, p.reason) for p in report.problems if p.line == BAD_LINE]
    assert any(f == field and reason in r for f, r in on_bad_line), on_bad_line
    assert (report.records, report.valid, report.invalid) == (3, 2, 1)
    assert not report.is_valid
    rendered = next(p for p in report.problems if p.line == BAD_LINE and p.field == field).render()
    assert rendered.startswith(f"{path}:{BAD_LINE}: {field}: ")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_with_text("tab\\t cr\\r lf\\n and \\\\ backslash"), id="tab-cr-lf"),
        pytest.param(_with_text('JSON inside: {\\"key\\": \\"value\\"}'), id="quoted-json"),
        pytest.param(_with_text("caf\u00e9 \u00b0 \\u00e9 \\ud83d\\ude00"), id="non-ascii-and-pairs"),
        pytest.param(
            b'{ "schemaVersion" : "bedrock-conversation-2024" ,\t"messages" : [ { "role" : "user" ,'
            b' "content" : [ { "text" : "spaced" } ] } ] }\r',
            id="spaced-crlf",
        ),
    ],
)
def test_allowed_characters_and_layouts_pass(raw: bytes) -> None:
    # Given a record that is valid but exercises the cheap pre-checks (escapes, quotes, spacing)
    # When it is checked
    issues, shape = RecordChecker().check_line(raw)

    # Then it has no problem at all
    assert issues == []
    assert shape is not None


def test_multi_turn_is_an_error_for_meta_and_anthropic_students_only(tmp_path: Path) -> None:
    # Given a multi-turn record on line 3
    multi_turn = _line(conversation("first?", "answer.", "second?"))
    path = write_jsonl(tmp_path / "data.jsonl", [*valid_lines(2), multi_turn])

    # When it is validated for each kind of student, and for none
    by_student = {
        student: [p for p in validate_dataset(path, student).problems if p.line == BAD_LINE]
        for student in ("meta.llama3-1-8b-instruct-v1:0", "anthropic.claude-3-haiku-20240307-v1:0")
    }
    nova = validate_dataset(path, "amazon.nova-lite-v1:0")
    unknown = validate_dataset(path)

    # Then Meta and Anthropic reject it, Nova accepts it, and without a student it is a warning
    for student, problems in by_student.items():
        assert [(p.field, p.severity) for p in problems] == [("messages", Severity.ERROR)], student
        assert "2 user turns" in problems[0].reason
    assert [p for p in nova.problems if p.line == BAD_LINE] == []
    assert (nova.valid, nova.multi_turn, nova.single_turn) == (3, 1, 2)
    warning = next(p for p in unknown.problems if p.line == BAD_LINE)
    assert (warning.severity, warning.field) == (Severity.WARNING, "messages")
    assert unknown.valid == 3


def test_blank_lines_are_reported_but_not_fatal(tmp_path: Path) -> None:
    # Given 100 valid records with a blank line and a whitespace-only line among them
    lines = valid_lines(100)
    path = write_jsonl(tmp_path / "data.jsonl", [*lines[:50], b"", b"  \t", *lines[50:]])

    # When it is validated
    report = validate_dataset(path)

    # Then both lines are warnings, not records, and the file is valid
    blanks = [(p.line, p.severity) for p in report.problems if p.reason == "blank line"]
    assert blanks == [(51, Severity.WARNING), (52, Severity.WARNING)]
    assert (report.records, report.blank_lines, report.errors) == (100, 2, 0)
    assert report.is_valid


def test_fewer_than_100_valid_records_is_a_file_level_error(tmp_path: Path) -> None:
    # Given 99 valid records and one invalid one
    path = write_jsonl(tmp_path / "data.jsonl", [*valid_lines(99), b"[]"])

    # When it is validated
    report = validate_dataset(path)

    # Then the file is invalid for having too few valid records, reported on line 0
    file_level = [p.reason for p in report.problems if p.line == 0]
    assert any("only 99 valid records" in reason for reason in file_level)
    assert any("fewer than 100 valid records (99)" in reason for reason in report.verdict_reasons)


def test_more_than_15000_records_is_a_file_level_error(tmp_path: Path) -> None:
    # Given one record more than Bedrock accepts
    path = write_jsonl(tmp_path / "data.jsonl", valid_lines(MAX_RECORDS + 1))

    # When it is validated
    report = validate_dataset(path)

    # Then every record is valid but the file is not
    assert report.valid == MAX_RECORDS + 1
    assert [p.reason for p in report.problems if p.line == 0] == [
        "15,001 records; Bedrock accepts at most 15,000 per job"
    ]
    assert not report.is_valid


def test_duplicate_prompts_name_the_first_occurrence(tmp_path: Path) -> None:
    # Given a prompt on line 2 repeated on line 5 (with a different answer) and line 7
    lines = valid_lines(120)
    repeated = _line(conversation("question 1?", "another answer."))
    lines[4] = repeated
    lines[6] = _line(conversation("question 1?"))

    # When it is validated
    report = validate_dataset(write_jsonl(tmp_path / "data.jsonl", lines))

    # Then both repeats point at line 2, as warnings
    duplicates = [(p.line, p.reason, p.severity) for p in report.problems if "duplicate prompt" in p.reason]
    assert duplicates == [
        (5, "duplicate prompt: identical to line 2", Severity.WARNING),
        (7, "duplicate prompt: identical to line 2", Severity.WARNING),
    ]
    assert report.duplicate_prompts == 2
    assert report.is_valid


def test_summary_counts_turns_golden_answers_and_estimated_tokens(tmp_path: Path) -> None:
    # Given 100 single-turn records with answers, one prompt-only record and one multi-turn record
    lines = valid_lines(100)
    prompt_only = conversation("x" * 40, system=None)
    multi_turn = conversation("a" * 8, "b" * 100, "c" * 12, system="s" * 20)
    path = write_jsonl(tmp_path / "data.jsonl", [*lines, _line(prompt_only), _line(multi_turn)])

    # When it is validated for a Nova student
    report = validate_dataset(path, "amazon.nova-micro-v1:0")

    # Then the counts add up and tokens are input characters / 4, answers excluded
    single_turn_chars = sum(len(f"question {i}?") + len("You are concise.") for i in range(100))
    expected_characters = single_turn_chars + 40 + (8 + 100 + 12 + 20)
    assert report.to_dict() | {"problems": []} == report.to_dict() | {
        "records": 102,
        "valid": 102,
        "invalid": 0,
        "single_turn": 101,
        "multi_turn": 1,
        "with_golden_answer": 100,
        "duplicate_prompts": 0,
        "estimated_input_tokens": -(-expected_characters // 4),
        "verdict": "valid",
        "problems": [],
    }


def test_an_oversize_line_is_skipped_without_losing_the_next_one(tmp_path: Path) -> None:
    # Given a 3 MB line between two valid records
    huge = _line(conversation("y" * 3_000_000))
    path = write_jsonl(tmp_path / "data.jsonl", [*valid_lines(1), huge, *valid_lines(1, prefix="after")])

    # When it is validated
    report = validate_dataset(path)

    # Then the huge line is one invalid record with its size, and the next line is still read
    (problem,) = [p for p in report.problems if p.line == 2]
    assert problem.reason.startswith(f"record is {len(huge):,} bytes")
    assert (report.records, report.valid) == (3, 2)


def test_s3_source_is_streamed_and_validated(tmp_path: Path, s3_client: object) -> None:
    # Given a dataset with one bad record in S3
    lines = [*valid_lines(100), _line(conversation(""))]
    s3_client.put_object(Bucket=BUCKET, Key="data/train.jsonl", Body=b"\n".join(lines))  # type: ignore[attr-defined]

    # When it is validated by URI
    report = validate_dataset(f"s3://{BUCKET}/data/train.jsonl")

    # Then the problem is located in the object
    assert [(p.path, p.line, p.field) for p in report.problems] == [
        (f"s3://{BUCKET}/data/train.jsonl", 101, "messages[0].content[0].text")
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("{tmp}/missing.jsonl", "no such file", id="missing-file"),
        pytest.param("{tmp}", "is a directory", id="directory"),
        pytest.param(f"s3://{BUCKET}/missing.jsonl", "NoSuchKey", id="missing-object"),
        pytest.param("s3://no-such-bucket-preflight/x.jsonl", "NoSuchBucket", id="missing-bucket"),
    ],
)
def test_unreadable_sources_raise_one_clear_error(tmp_path: Path, s3_client: object, source: str, message: str) -> None:
    # Given a source that cannot be read
    location = source.format(tmp=tmp_path)

    # When it is validated, Then one SourceError names it and says why
    with pytest.raises(SourceError, match=message) as raised:
        validate_dataset(location)
    assert str(raised.value).startswith(location)


def test_report_is_json_serializable(tmp_path: Path) -> None:
    # Given a report with problems
    report = validate_dataset(write_jsonl(tmp_path / "data.jsonl", [b"[]"]))

    # When it is serialized, Then it round-trips through JSON with its problems
    decoded = orjson.loads(json.dumps(report.to_dict()))
    assert decoded["problems"][0] == {
        "path": str(tmp_path / "data.jsonl"),
        "line": 1,
        "field": "$",
        "reason": "record must be a JSON object, got array",
        "severity": "error",
    }
