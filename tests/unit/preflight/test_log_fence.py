"""distill logs scan stays inside its fence: body pointers are followed only inside the scanned location,
and every object it reads is size-capped, so hostile log trees end in located problems, in bounded memory."""

from __future__ import annotations

import gzip
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from bedrock_distill.preflight import Severity, scan_logs
from bedrock_distill.preflight.logscan import ScanLimits, ScanReport
from bedrock_distill.preflight.problems import WHOLE_FILE
from tests.unit.preflight.conftest import BUCKET, LOG_HOUR, TEACHER, gzip_lines, log_record, write_log_file

pytestmark = pytest.mark.unit

DATA = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/data"
INPUT_BODY = {"messages": [{"role": "user", "content": [{"text": "a prompt from behind the pointer"}]}]}
OTHER_BUCKET = "another-teams-bucket"
# Small caps, so a bomb many times larger than them is still cheap to build and to inflate.
SMALL = ScanLimits(line_bytes=256 << 10, file_bytes=2 << 20, body_bytes=1 << 20)
BOMB_BYTES = 64 << 20


def _records_pointing_to(pointer: str) -> list[dict[str, Any]]:
    """One record whose prompt is behind ``pointer``, after 100 usable ones."""
    moved = log_record()
    moved["input"] = {"inputBodyS3Path": pointer}
    return [*(log_record(f"prompt {index}") for index in range(100)), moved]


def _put_log_pointing_to(s3_client: Any, pointer: str) -> None:
    s3_client.put_object(
        Bucket=BUCKET, Key=f"logs/{LOG_HOUR}/a.json.gz", Body=gzip_lines(_records_pointing_to(pointer))
    )


def _gzip_bomb(decompressed_bytes: int) -> bytes:
    """Zeros in concatenated gzip members: about 1,000:1, built in milliseconds."""
    member = gzip.compress(bytes(4 << 20), compresslevel=9)
    return member * (decompressed_bytes // (4 << 20))


def _peak_bytes_while(scan: Callable[[], ScanReport]) -> tuple[ScanReport, int]:
    tracemalloc.start()
    try:
        report = scan()
        return report, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _pointer_problem(report: ScanReport) -> Any:
    (problem,) = [problem for problem in report.problems if problem.field == "inputBodyS3Path"]
    return problem


@pytest.mark.parametrize(
    "pointer",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "../../../../etc/passwd",
        f"s3://{OTHER_BUCKET}/logs/{DATA}/abc_input.json.gz",  # another bucket
        f"s3://{BUCKET}/other-team/{DATA}/abc_input.json.gz",  # another prefix
        f"s3://{BUCKET}/logs-other/{DATA}/abc_input.json.gz",  # a prefix that only starts like ours
        f"s3://{BUCKET}/logs/../other-team/abc_input.json.gz",  # climbing out by dot segments
        "s3://",
    ],
)
def test_a_pointer_outside_the_scanned_prefix_is_refused_unread(s3_client: Any, pointer: str) -> None:
    # Given a log prefix whose last record points outside it, at a body that would make it usable
    s3_client.create_bucket(Bucket=OTHER_BUCKET)
    body = gzip.compress(orjson.dumps(INPUT_BODY))
    s3_client.put_object(Bucket=OTHER_BUCKET, Key=f"logs/{DATA}/abc_input.json.gz", Body=body)
    s3_client.put_object(Bucket=BUCKET, Key=f"other-team/{DATA}/abc_input.json.gz", Body=body)
    s3_client.put_object(Bucket=BUCKET, Key=f"logs-other/{DATA}/abc_input.json.gz", Body=body)
    s3_client.put_object(
        Bucket=BUCKET, Key=f"logs/{LOG_HOUR}/a.json.gz", Body=gzip_lines(_records_pointing_to(pointer))
    )

    # When the prefix is scanned
    report = scan_logs(f"s3://{BUCKET}/logs", teacher_model_id=TEACHER)

    # Then that record is excluded with a located problem naming the fence, and its body was not read
    problem = _pointer_problem(report)
    assert (problem.path, problem.line) == (f"s3://{BUCKET}/logs/{LOG_HOUR}/a.json.gz", 101)
    assert problem.reason.startswith(f"outside the log location s3://{BUCKET}/logs/")
    assert problem.render().startswith(f"{problem.path}:101: inputBodyS3Path: warning: outside the log location")
    assert (report.usable_prompts, report.excluded["body_unavailable"]) == (100, 1)


def test_a_pointer_inside_the_scanned_prefix_is_followed(s3_client: Any) -> None:
    # Given the same record pointing inside the prefix
    pointer = f"s3://{BUCKET}/logs/{DATA}/abc_input.json.gz"
    s3_client.put_object(
        Bucket=BUCKET, Key=f"logs/{DATA}/abc_input.json.gz", Body=gzip.compress(orjson.dumps(INPUT_BODY))
    )
    s3_client.put_object(
        Bucket=BUCKET, Key=f"logs/{LOG_HOUR}/a.json.gz", Body=gzip_lines(_records_pointing_to(pointer))
    )

    # When scanned, also with the prefix given with its trailing slash
    for source in (f"s3://{BUCKET}/logs", f"s3://{BUCKET}/logs/"):
        report = scan_logs(source, teacher_model_id=TEACHER)

        # Then its body is read and the record is usable
        assert (report.usable_prompts, report.problems) == (101, [])


def test_a_local_copy_refuses_local_paths_and_links_leading_out(tmp_path: Path) -> None:
    # Given a local copy of a log tree, and a readable body outside it
    copy = tmp_path / "copy"
    outside = tmp_path / "secret_input.json.gz"
    outside.write_bytes(gzip.compress(orjson.dumps(INPUT_BODY)))
    data = copy / DATA
    data.mkdir(parents=True)
    (data / "linked_input.json.gz").symlink_to(outside)
    (data / "zero_input.json.gz").symlink_to("/dev/zero")
    refused = {
        "absolute path": str(outside),
        "relative path": "../secret_input.json.gz",
        "dot segments": f"s3://{BUCKET}/logs/../../secret_input.json.gz",
        "symlink out": f"s3://{BUCKET}/logs/{DATA}/linked_input.json.gz",
        "symlink to a device": f"s3://{BUCKET}/logs/{DATA}/zero_input.json.gz",
    }
    for index, pointer in enumerate(refused.values()):
        write_log_file(copy, f"{index}.json.gz", _records_pointing_to(pointer)[-1:])
    write_log_file(copy, "usable.json.gz", _records_pointing_to("unused")[:100])

    # When the copy is scanned
    report = scan_logs(str(copy), teacher_model_id=TEACHER)

    # Then each pointer is refused at its record, naming the copy as the fence, and nothing outside was read
    problems = {problem.path: problem for problem in report.problems if problem.field == "inputBodyS3Path"}
    for index, (case, pointer) in enumerate(refused.items()):
        problem = problems[str(copy / LOG_HOUR / f"{index}.json.gz")]
        assert problem.reason == f"outside the log location {copy}/: {pointer}", case
        assert (problem.line, problem.severity) == (1, Severity.WARNING)
    assert (report.usable_prompts, report.excluded["body_unavailable"]) == (100, len(refused))


def test_a_gzip_bomb_log_file_is_a_file_problem_in_bounded_memory(tmp_path: Path) -> None:
    # Given a log file that inflates to 64 MiB of zeros (64 KiB on disk), beside 100 usable records
    write_log_file(tmp_path, "a.json.gz", _records_pointing_to("unused")[:100])
    (tmp_path / LOG_HOUR / "bomb.json.gz").write_bytes(_gzip_bomb(BOMB_BYTES))

    # When scanned with caps far below the bomb
    report, peak = _peak_bytes_while(lambda: scan_logs(str(tmp_path), limits=SMALL, workers=1))

    # Then the bomb is an unreadable file with one problem naming the cap, and memory stayed near the caps
    (problem,) = [problem for problem in report.problems if problem.path.endswith("bomb.json.gz")]
    assert (problem.line, problem.field, problem.severity) == (WHOLE_FILE, "(file)", Severity.ERROR)
    assert "decompresses to over the 2,097,152-byte cap" in problem.reason
    assert (report.files_unreadable, report.usable_prompts) == (1, 100)
    assert not report.is_valid
    assert peak < BOMB_BYTES // 6, f"peak {peak:,} bytes"


def test_dev_zero_as_a_log_file_ends_at_the_cap(tmp_path: Path) -> None:
    # Given a "log file" that is a link to /dev/zero: endless, and not gzip
    hour = tmp_path / LOG_HOUR
    hour.mkdir(parents=True)
    (hour / "zero.json").symlink_to("/dev/zero")

    # When scanned (in a thread, so that a scan that never ends fails the test instead of hanging it)
    outcome: list[tuple[ScanReport, int]] = []
    scanner = threading.Thread(
        target=lambda: outcome.append(_peak_bytes_while(lambda: scan_logs(str(tmp_path), limits=SMALL, workers=1))),
        daemon=True,
    )
    scanner.start()
    scanner.join(timeout=60)

    # Then it ends, as one file problem
    assert outcome, "the scan of /dev/zero did not end"
    ((report, peak),) = outcome
    assert report.files_unreadable == 1
    assert any("object is over the 2,097,152-byte cap" in problem.reason for problem in report.problems)
    assert peak < 16 << 20


def test_a_gzip_bomb_body_is_a_record_problem_in_bounded_memory(s3_client: Any) -> None:
    # Given a record whose body object, inside the prefix, inflates to 64 MiB of zeros
    pointer = f"s3://{BUCKET}/logs/{DATA}/bomb_input.json.gz"
    s3_client.put_object(Bucket=BUCKET, Key=f"logs/{DATA}/bomb_input.json.gz", Body=_gzip_bomb(BOMB_BYTES))
    s3_client.put_object(
        Bucket=BUCKET, Key=f"logs/{LOG_HOUR}/a.json.gz", Body=gzip_lines(_records_pointing_to(pointer))
    )

    # When scanned
    report, peak = _peak_bytes_while(lambda: scan_logs(f"s3://{BUCKET}/logs", limits=SMALL, workers=1))

    # Then the record is excluded with a located problem naming the cap
    problem = _pointer_problem(report)
    assert problem.line == 101
    assert problem.reason == f"{pointer}: decompresses to over the 1,048,576-byte cap (a gzip bomb?)"
    assert (report.usable_prompts, report.excluded["body_unavailable"]) == (100, 1)
    assert peak < BOMB_BYTES // 6, f"peak {peak:,} bytes"


def test_a_body_object_over_the_cap_is_not_read_whole(s3_client: Any) -> None:
    # Given a body object stored larger than the cap (incompressible, not gzip)
    pointer = f"s3://{BUCKET}/logs/{DATA}/large_input.json"
    s3_client.put_object(Bucket=BUCKET, Key=f"logs/{DATA}/large_input.json", Body=os.urandom(3 << 20))
    s3_client.put_object(
        Bucket=BUCKET, Key=f"logs/{LOG_HOUR}/a.json.gz", Body=gzip_lines(_records_pointing_to(pointer))
    )

    # When scanned
    report = scan_logs(f"s3://{BUCKET}/logs", limits=SMALL, workers=1)

    # Then the record is excluded because of the stored size
    assert "object is over the 1,048,576-byte cap" in _pointer_problem(report).reason
    assert report.excluded["body_unavailable"] == 1


def test_the_default_caps_fit_what_bedrock_writes() -> None:
    # A body is at most InvokeModel's 25,000,000-byte body (botocore bedrock-runtime), and a line holds bodies
    # of at most ~100 KB each; a file is streamed.
    defaults = ScanLimits()
    assert defaults.body_bytes >= 25_000_000
    assert 1 << 20 <= defaults.line_bytes <= defaults.file_bytes
