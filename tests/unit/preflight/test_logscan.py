"""distill logs scan, as a library: generated log trees, locally and in moto's S3."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from bedrock_distill.preflight import Severity, SourceError, scan_logs
from bedrock_distill.preflight.logscan import Exclusion, ScanReport
from tests.unit.preflight.conftest import (
    BUCKET,
    LOG_HOUR,
    TEACHER,
    gzip_lines,
    log_record,
    write_log_file,
)

pytestmark = pytest.mark.unit

LLAMA_TEACHER = "meta.llama3-1-70b-instruct-v1:0"
IMAGE = {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}
MULTI_TURN = [
    {"role": "user", "content": [{"text": "first"}]},
    {"role": "assistant", "content": [{"text": "reply"}]},
    {"role": "user", "content": [{"text": "second"}]},
]


def _usable(count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [log_record(f"prompt {index}", **overrides) for index in range(count)]


def _mixed_records() -> list[dict[str, Any]]:
    """One record for each way a record can be excluded, after 100 usable ones."""
    return [
        *_usable(100),
        log_record(error_code="ThrottlingException"),
        log_record(messages=MULTI_TURN),
        log_record(messages=[{"role": "user", "content": [{"text": "look"}, IMAGE]}]),
        log_record(answer=None),
        log_record(model_id="amazon.nova-lite-v1:0"),
        log_record("   "),
    ]


def _excluded(report: ScanReport) -> dict[str, int]:
    return {reason: count for reason, count in report.excluded.items() if count}


def _assert_every_record_is_accounted_for(report: ScanReport) -> None:
    excluded = sum(report.excluded.values()) - report.excluded[Exclusion.UNPARSEABLE]
    assert report.records_matching_filter == report.used + excluded
    assert report.records == (
        report.records_matching_filter + report.records_not_matching_filter + report.excluded[Exclusion.UNPARSEABLE]
    )


def test_prompts_are_counted_and_every_exclusion_has_its_reason(tmp_path: Path) -> None:
    # Given a log tree with usable records and one of each problem, split over two files
    records = _mixed_records()
    write_log_file(tmp_path, "a.json.gz", records[:60])
    write_log_file(tmp_path, "b.json.gz", records[60:])

    # When it is scanned for a Llama teacher (single-turn family), prompts only
    report = scan_logs(str(tmp_path), teacher_model_id=LLAMA_TEACHER)

    # Then the other model's record is a usable prompt, and each other problem is excluded
    assert (report.files_read, report.records, report.records_matching_filter) == (2, 106, 106)
    assert report.usable_prompts == 102  # 100 + missing output + other model
    assert _excluded(report) == {"error_record": 1, "multi_turn": 1, "non_text_content": 1, "empty_prompt": 1}
    assert report.usable_prompt_response_pairs == 0  # no record comes from the Llama teacher
    assert report.is_valid
    _assert_every_record_is_accounted_for(report)


def test_multi_turn_is_usable_for_a_nova_teacher(tmp_path: Path) -> None:
    # Given the same records
    write_log_file(tmp_path, "a.json.gz", _mixed_records())

    # When they are scanned for a Nova teacher, whose students accept multi-turn records
    report = scan_logs(str(tmp_path), teacher_model_id=TEACHER)

    # Then the multi-turn record is usable, and pairs need the teacher and a response
    assert _excluded(report) == {"error_record": 1, "non_text_content": 1, "empty_prompt": 1}
    assert report.usable_prompts == 103
    assert report.usable_prompt_response_pairs == 101  # not the other model's, not the one without output


def test_prompt_response_pairs_need_exactly_the_teacher_and_a_response(tmp_path: Path) -> None:
    # Given the same records
    write_log_file(tmp_path, "a.json.gz", _mixed_records())

    # When pairs are used
    report = scan_logs(str(tmp_path), teacher_model_id=TEACHER, use_prompt_response=True)

    # Then the other model's record and the one without output are excluded for those reasons
    assert _excluded(report) == {
        "error_record": 1,
        "model_mismatch": 1,
        "missing_output": 1,
        "non_text_content": 1,
        "empty_prompt": 1,
    }
    assert report.used == report.usable_prompt_response_pairs == 101
    _assert_every_record_is_accounted_for(report)


def test_the_filter_is_applied_to_request_metadata(tmp_path: Path) -> None:
    # Given 120 alpha/high, 30 alpha/low and 50 beta records, and one with no metadata
    records = [
        *_usable(120, metadata={"project": "alpha", "priority": "high"}),
        *_usable(30, metadata={"project": "alpha", "priority": "low"}),
        *_usable(50, metadata={"project": "beta"}),
        log_record(metadata={}),
    ]
    write_log_file(tmp_path, "a.json.gz", records)
    source = str(tmp_path)

    # When scanned with different filters
    def matching(metadata_filter: dict[str, Any]) -> int:
        return scan_logs(source, metadata_filter).records_matching_filter

    # Then each matches exactly the records Bedrock would select
    assert matching({"equals": {"project": "alpha"}}) == 150
    assert matching({"notEquals": {"priority": "high"}}) == 81  # low, beta (no priority) and no metadata
    assert matching({"andAll": [{"equals": {"project": "alpha"}}, {"equals": {"priority": "low"}}]}) == 30
    assert matching({"orAll": [{"equals": {"project": "beta"}}, {"equals": {"priority": "low"}}]}) == 80
    narrow = scan_logs(source, {"equals": {"priority": "low"}})
    assert (narrow.records_not_matching_filter, narrow.is_valid) == (171, False)
    assert narrow.verdict_reasons == ["fewer than 100 usable prompts match (30); distillation needs at least 100"]


def test_more_than_15000_usable_records_is_invalid(tmp_path: Path) -> None:
    # Given 15,001 usable records
    write_log_file(tmp_path, "a.json.gz", _usable(15_001))

    # When scanned
    report = scan_logs(str(tmp_path))

    # Then the verdict says there are too many, and how many
    assert not report.is_valid
    assert report.verdict_reasons[0].startswith("more than 15,000 usable prompts would be used (15,001)")


def _pointer(kind: str, name: str) -> str:
    return f"s3://{BUCKET}/logs/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/data/{name}_{kind}.json.gz"


def _pointer_records() -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """101 usable records, the first with both bodies behind pointers, one whose body is missing."""
    records = _usable(100)
    input_body = {"messages": [{"role": "user", "content": [{"text": "a long prompt"}]}]}
    output_body = {"output": {"message": {"role": "assistant", "content": [{"text": "a long answer"}]}}}
    moved = log_record()
    moved["input"] = {"inputBodyS3Path": _pointer("input", "abc")}
    moved["output"] = {"outputBodyS3Path": _pointer("output", "abc")}
    missing = log_record()
    missing["input"] = {"inputBodyS3Path": _pointer("input", "gone")}
    bodies = {
        "abc_input.json.gz": gzip.compress(orjson.dumps(input_body)),
        "abc_output.json.gz": gzip.compress(orjson.dumps(output_body)),
    }
    return [moved, *records, missing], bodies


def test_pointer_bodies_are_followed_in_a_local_copy(tmp_path: Path) -> None:
    # Given a local copy of a log tree whose first record's bodies live under data/
    records, bodies = _pointer_records()
    write_log_file(tmp_path, "a.json.gz", records)
    data = tmp_path / "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/data"
    data.mkdir(parents=True)
    for name, body in bodies.items():
        (data / name).write_bytes(body)

    # When scanned for pairs
    report = scan_logs(str(tmp_path), teacher_model_id=TEACHER, use_prompt_response=True)

    # Then the moved record is a usable pair, the missing body is excluded and said, and bodies are not logs
    assert report.usable_prompt_response_pairs == 101
    assert _excluded(report) == {"body_unavailable": 1}
    assert report.files_skipped == 2
    (warning,) = report.problems[:1]
    assert (warning.line, warning.field, warning.severity) == (102, "inputBodyS3Path", Severity.WARNING)
    assert _pointer("input", "gone") in warning.reason


def test_s3_tree_with_pointer_bodies(s3_client: Any) -> None:
    # Given the same tree in S3, with a permission-check object beside it
    records, bodies = _pointer_records()
    s3_client.put_object(Bucket=BUCKET, Key=f"logs/{LOG_HOUR}/a.json.gz", Body=gzip_lines(records))
    for name, body in bodies.items():
        key = f"logs/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/data/{name}"
        s3_client.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3_client.put_object(Bucket=BUCKET, Key="logs/AWSLogs/amazon-bedrock-logs-permission-check", Body=b"")

    # When the prefix is scanned
    report = scan_logs(f"s3://{BUCKET}/logs", teacher_model_id=TEACHER, use_prompt_response=True)

    # Then the pointer bodies are read from S3
    assert (report.files_read, report.files_skipped) == (1, 3)
    assert report.usable_prompt_response_pairs == 101
    assert _excluded(report) == {"body_unavailable": 1}
    assert "NoSuchKey" in report.problems[0].reason


def test_a_file_holding_one_pretty_printed_record_is_read(tmp_path: Path) -> None:
    # Given 99 records in a normal file, one pretty-printed record plain and one gzipped
    write_log_file(tmp_path, "a.json.gz", _usable(99))
    pretty = json.dumps(log_record("pretty"), indent=2).encode()
    (tmp_path / LOG_HOUR / "single.json").write_bytes(pretty)
    (tmp_path / LOG_HOUR / "single2.json.gz").write_bytes(gzip.compress(pretty))

    # When scanned
    report = scan_logs(str(tmp_path))

    # Then each pretty-printed file is one usable record
    assert (report.files_read, report.records, report.usable_prompts) == (3, 101, 101)


def test_malformed_files_and_lines_are_reported_not_dropped(tmp_path: Path) -> None:
    # Given a good file, a corrupt gzip, a truncated gzip and a file with bad lines
    write_log_file(tmp_path, "a.json.gz", _usable(100))
    hour = tmp_path / LOG_HOUR
    (hour / "corrupt.json.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data" * 4)
    (hour / "truncated.json.gz").write_bytes(gzip_lines(_usable(5))[:-12])
    bad_lines = b"{not json\n[1, 2]\n" + orjson.dumps({"no": "input"}) + b"\n\n" + orjson.dumps(log_record()) + b"\n"
    (hour / "lines.json.gz").write_bytes(gzip.compress(bad_lines))

    # When scanned
    report = scan_logs(str(tmp_path))

    # Then both broken gzip files are unreadable errors (records read before the break still count),
    # and each bad line is an unparseable warning
    unreadable = sorted(Path(p.path).name for p in report.problems if p.severity is Severity.ERROR)
    assert unreadable == ["corrupt.json.gz", "truncated.json.gz"]
    assert any("truncated gzip" in p.reason for p in report.problems)
    unparseable = [(Path(p.path).name, p.line) for p in report.problems if p.severity is Severity.WARNING]
    assert unparseable == [("lines.json.gz", 1), ("lines.json.gz", 2), ("lines.json.gz", 3)]
    assert report.excluded["unparseable"] == 3
    assert (report.files_read, report.files_unreadable, report.usable_prompts) == (4, 2, 101 + 4)
    assert not report.is_valid
    assert report.verdict_reasons == ["2 unreadable files"]
    _assert_every_record_is_accounted_for(report)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"use_prompt_response": True}, "give teacher_model_id", id="pairs-without-teacher"),
        pytest.param({"metadata_filter": {"equals": {}}}, "invalid filter", id="invalid-filter"),
    ],
)
def test_invalid_arguments_are_refused(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scan_logs(str(tmp_path), **kwargs)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("{tmp}/missing", "no such directory", id="missing-directory"),
        pytest.param(f"s3://{BUCKET}/nothing-here", "no objects under this prefix", id="empty-prefix"),
        pytest.param("s3://no-such-bucket-preflight/logs", "NoSuchBucket", id="missing-bucket"),
    ],
)
def test_unlistable_sources_raise_one_clear_error(tmp_path: Path, s3_client: Any, source: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        scan_logs(source.format(tmp=tmp_path))


def _counted(record: dict[str, Any], input_tokens: object, output_tokens: object, timestamp: str) -> dict[str, Any]:
    record["input"]["inputTokenCount"] = input_tokens
    if "output" in record:
        record["output"]["outputTokenCount"] = output_tokens
    record["timestamp"] = timestamp
    return record


def test_the_teachers_token_volume_is_summed_over_matching_records_across_files(tmp_path: Path) -> None:
    # Given the teacher's records with token counts over two files and three days, one other model's, one failed
    # call, one record outside the filter, and one whose counts are not numbers
    records = [_counted(log_record(f"p{i}"), 100, 40, f"2025-01-0{1 + i % 3}T00:00:00Z") for i in range(6)]
    records += [
        _counted(log_record(model_id="amazon.nova-lite-v1:0"), 9_000, 9_000, "2024-12-01T00:00:00Z"),
        _counted(log_record(error_code="ThrottlingException"), 9_000, 0, "2024-12-01T00:00:00Z"),
        _counted(log_record(metadata={"project": "beta"}), 9_000, 9_000, "2024-12-01T00:00:00Z"),
        _counted(log_record(), "100", True, "2025-01-02T12:00:00Z"),
    ]
    write_log_file(tmp_path, "a.json.gz", records[:4])
    write_log_file(tmp_path, "b.json.gz", records[4:])

    # When the logs are scanned for the teacher, with the run's filter
    report = scan_logs(str(tmp_path), {"equals": {"project": "alpha"}}, teacher_model_id=TEACHER)

    # Then only the teacher's successful, matching calls count; text and booleans are not counts
    assert report.to_dict()["volume"] == {
        "invocations": 7,
        "inputTokens": 600,
        "outputTokens": 240,
        "firstTimestamp": "2025-01-01T00:00:00Z",
        "lastTimestamp": "2025-01-03T00:00:00Z",
    }
