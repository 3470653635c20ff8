"""Log-scan memory benchmark: the scanner's peak memory on hostile log trees, with its default caps.

Builds, in a temporary directory, three local log trees in Bedrock's layout and scans each with
``scan_logs`` under tracemalloc (the Python heap, where a buffered line or body would live):

- a normal log file of 10,000 records;
- a gzip bomb log file: about 1 MB on disk that would inflate to 1 GiB of zeros;
- a normal log file whose one pointer body is such a bomb.

It prints, per tree, the wall seconds, the peak traced memory, the records counted and the problem the
scan reported, and fails (exit 1) if a bomb is not reported or a peak exceeds what the caps allow.

    .venv/bin/python bench/logscan_memory_bench.py [--bomb-mib N] [--records N]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from bedrock_distill.preflight import scan_logs
from bedrock_distill.preflight.logscan import DEFAULT_SCAN_LIMITS, ScanReport

HOUR = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2025/01/02/03"
DATA = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/data"
TEACHER = "amazon.nova-pro-v1:0"
BOMB_MEMBER_MIB = 16
# What the caps let one worker hold: a line read whole (twice, while it is joined), the largest inflate
# step, and a body; anything well above means a cap is not doing its job.
ALLOWED_PEAK = 2 * DEFAULT_SCAN_LIMITS.line_bytes + DEFAULT_SCAN_LIMITS.body_bytes + (16 << 20)


def _record(index: int, input_field: dict[str, Any] | None = None) -> dict[str, Any]:
    prompt = {"messages": [{"role": "user", "content": [{"text": f"Summarise ticket {index}."}]}]}
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2025-01-02T03:04:05Z",
        "accountId": "123456789012",
        "region": "us-east-1",
        "requestId": f"request-{index}",
        "operation": "Converse",
        "modelId": TEACHER,
        "input": input_field or {"inputContentType": "application/json", "inputBodyJson": prompt},
        "output": {
            "outputContentType": "application/json",
            "outputBodyJson": {"output": {"message": {"role": "assistant", "content": [{"text": "Done."}]}}},
        },
        "requestMetadata": {"project": "bench"},
    }


def _gzip_bomb(decompressed_mib: int) -> bytes:
    """Concatenated gzip members of zeros (gzip allows several): ~1,000:1, built in well under a second."""
    member = gzip.compress(bytes(BOMB_MEMBER_MIB << 20), compresslevel=9)
    return member * max(1, decompressed_mib // BOMB_MEMBER_MIB)


def _write_log(root: Path, name: str, records: list[dict[str, Any]]) -> None:
    path = root / HOUR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(orjson.dumps(record) + b"\n" for record in records)))


def _trees(base: Path, records: int, bomb_mib: int) -> dict[str, Path]:
    normal = base / "normal"
    _write_log(normal, "a.json.gz", [_record(index) for index in range(records)])

    bomb_file = base / "bomb-file"
    (bomb_file / HOUR).mkdir(parents=True)
    (bomb_file / HOUR / "bomb.json.gz").write_bytes(_gzip_bomb(bomb_mib))

    bomb_body = base / "bomb-body"
    pointer = f"s3://logs-bucket/logs/{DATA}/bomb_input.json.gz"
    _write_log(bomb_body, "a.json.gz", [_record(0, {"inputBodyS3Path": pointer})])
    (bomb_body / DATA).mkdir(parents=True)
    (bomb_body / DATA / "bomb_input.json.gz").write_bytes(_gzip_bomb(bomb_mib))
    return {"normal log file": normal, "gzip bomb log file": bomb_file, "gzip bomb body": bomb_body}


def _measure(scan: Callable[[], ScanReport]) -> tuple[ScanReport, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        report = scan()
        return report, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bomb-mib", type=int, default=1024, help="what each bomb would inflate to (MiB)")
    parser.add_argument("--records", type=int, default=10_000, help="records in the normal log file")
    arguments = parser.parse_args()
    limits = DEFAULT_SCAN_LIMITS
    print(
        f"caps: line {limits.line_bytes >> 20} MiB, log file {limits.file_bytes >> 20} MiB, "
        f"body {limits.body_bytes >> 20} MiB; bombs inflate to {arguments.bomb_mib:,} MiB"
    )
    failures = []
    with tempfile.TemporaryDirectory(prefix="logscan-bench-") as directory:
        for name, root in _trees(Path(directory), arguments.records, arguments.bomb_mib).items():
            on_disk = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
            report, seconds, peak = _measure(partial(scan_logs, str(root), teacher_model_id=TEACHER))
            reasons = sorted(
                {problem.reason.rsplit(": ", 1)[-1] for problem in report.problems if problem.field != "(source)"}
            )
            print(
                f"{name:20} {on_disk / 1e6:8.2f} MB on disk  {seconds:6.2f} s  peak {peak / 2**20:7.1f} MiB  "
                f"records {report.records:,}  problems: {'; '.join(reasons) or 'none'}"
            )
            if peak > ALLOWED_PEAK:
                failures.append(f"{name}: peak {peak:,} bytes is over {ALLOWED_PEAK:,}")
            if "bomb" in name and not any("cap" in reason for reason in reasons):
                failures.append(f"{name}: no problem names a cap")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
