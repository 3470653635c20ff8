"""Preflight benchmark: ``distill validate`` and ``distill logs scan`` against their parse floors.

Generates, deterministically from a seed, a 15,000-record dataset, a ~1 GB dataset and ~200 MB of
gzip invocation logs in bench/data/ (reused while the seed and sizes match), then runs each command
and each floor in its own child process (best of three) and prints wall seconds, records/s, MB/s and
the child's peak RSS (os.wait4, so the figure is per run and includes the interpreter).

Floors: a bare loop that parses every line with orjson (validate), and one that gunzips each file
whole and parses every line with orjson (scan). Neither checks anything.

    .venv/bin/python bench/preflight_bench.py [--seed N] [--dataset-mb N] [--logs-mb N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

DATA = Path(__file__).resolve().parent / "data"
DISTILL = Path(sys.executable).with_name("distill")
TEACHER = "amazon.nova-pro-v1:0"
RECORDS_PER_LOG_FILE = 2000
BATCH = 5000
TARGETS = {"validate": 3.0, "logs scan": 2.0}
MAX_RSS_MB = 150
REPEATS = 3

PARSE_FLOOR = """
import sys, orjson
records = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        if line.strip():
            orjson.loads(line)
            records += 1
print(records)
"""

GUNZIP_PARSE_FLOOR = """
import os, sys, gzip, orjson
records = 0
for directory, _, files in os.walk(sys.argv[1]):
    for name in files:
        with open(os.path.join(directory, name), "rb") as handle:
            data = gzip.decompress(handle.read())
        for line in data.split(b"\\n"):
            if line:
                orjson.loads(line)
                records += 1
print(records)
"""


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    records: int
    megabytes: float
    peak_rss_mb: float

    def row(self) -> str:
        return (
            f"| {self.label} | {self.seconds:.2f} | {self.records / self.seconds:,.0f} | "
            f"{self.megabytes / self.seconds:,.1f} | {self.peak_rss_mb:.0f} |"
        )


# --- Data generation -------------------------------------------------------------------------------------


class Text:
    """A pool of paragraphs of pseudo-English, so records are varied but generation stays fast."""

    def __init__(self, rng: random.Random, paragraphs: int = 20_000) -> None:
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
        vocabulary = ["".join(rng.choices(letters, weights, k=rng.randint(1, 10))) for _ in range(8000)]
        vocabulary += ["Bedrock", "model", "the", "a", "of", "and", "to", "in", "is", "with", '"quoted":']
        self._paragraphs = [" ".join(rng.choices(vocabulary, k=rng.randint(15, 220))) for _ in range(paragraphs)]

    def paragraph(self, rng: random.Random) -> str:
        return rng.choice(self._paragraphs)


def dataset_records(rng: random.Random, text: Text) -> Iterator[bytes]:
    systems = [text.paragraph(rng) for _ in range(20)]
    for index in range(sys.maxsize):
        record: dict[str, object] = {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {
                    "role": "user",
                    "content": [{"text": f"Request {index}: {text.paragraph(rng)} {text.paragraph(rng)}"}],
                },
                {"role": "assistant", "content": [{"text": text.paragraph(rng)}]},
            ],
        }
        if rng.random() < 0.7:
            record["system"] = [{"text": rng.choice(systems)}]
        yield orjson.dumps(record)


def write_dataset(path: Path, rng: random.Random, text: Text, *, records: int | None, megabytes: int | None) -> None:
    size = 0
    written = 0
    with open(path, "wb") as handle:
        source = dataset_records(rng, text)
        while (records is None or written < records) and (megabytes is None or size < megabytes * 1_000_000):
            count = BATCH if records is None else min(BATCH, records - written)
            batch = b"\n".join(next(source) for _ in range(count)) + b"\n"
            handle.write(batch)
            size += len(batch)
            written += count


def log_records(rng: random.Random, text: Text) -> Iterator[bytes]:
    projects = ["alpha", "beta", "gamma", "delta"]
    for index in range(sys.maxsize):
        roll = rng.random()
        content: list[dict[str, object]] = [{"text": text.paragraph(rng)}]
        if roll < 0.02:
            content.append({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}})
        messages = [{"role": "user", "content": content}]
        if 0.02 <= roll < 0.07:
            messages += [
                {"role": "assistant", "content": [{"text": text.paragraph(rng)}]},
                {"role": "user", "content": [{"text": text.paragraph(rng)}]},
            ]
        record: dict[str, object] = {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": f"2025-01-01T00:{index % 60:02d}:00Z",
            "accountId": "123456789012",
            "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/app/session"},
            "region": "us-east-1",
            "requestId": f"{index:08x}-0000-4000-8000-{rng.getrandbits(48):012x}",
            "operation": "Converse",
            "modelId": TEACHER if rng.random() < 0.9 else "amazon.nova-lite-v1:0",
            "input": {
                "inputContentType": "application/json",
                "inputBodyJson": {
                    "messages": messages,
                    "system": [{"text": text.paragraph(rng)}],
                    "inferenceConfig": {"maxTokens": 512},
                },
                "inputTokenCount": 300,
            },
            "requestMetadata": {"project": rng.choice(projects), "priority": rng.choice(["high", "low"])},
        }
        if 0.07 <= roll < 0.10:
            record["errorCode"] = "ThrottlingException"
        else:
            record["output"] = {
                "outputContentType": "application/json",
                "outputBodyJson": {
                    "output": {"message": {"role": "assistant", "content": [{"text": text.paragraph(rng)}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 300, "outputTokens": 120},
                },
                "outputTokenCount": 120,
            }
        yield orjson.dumps(record)


def write_logs(root: Path, rng: random.Random, text: Text, megabytes: int) -> None:
    compressed = 0
    source = log_records(rng, text)
    for file_index in range(sys.maxsize):
        if compressed >= megabytes * 1_000_000:
            return
        hour = (
            root
            / "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2025/01"
            / (f"{1 + file_index // 240:02d}/{file_index // 10 % 24:02d}")
        )
        hour.mkdir(parents=True, exist_ok=True)
        body = b"\n".join(next(source) for _ in range(RECORDS_PER_LOG_FILE)) + b"\n"
        path = hour / f"20250101T000000Z_{file_index:06d}.json.gz"
        path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
        compressed += path.stat().st_size


def ensure(path: Path, parameters: Mapping[str, object], build: Callable[[], None]) -> None:
    """Builds the file or directory unless a complete one with the same parameters exists."""
    stamp = path.with_name(path.name + ".params.json")
    wanted = json.dumps(parameters, sort_keys=True)
    if path.exists() and stamp.exists() and stamp.read_text() == wanted:
        print(f"reusing {path.relative_to(DATA.parent)}")
        return
    print(f"generating {path.relative_to(DATA.parent)} ...", flush=True)
    started = time.perf_counter()
    stamp.unlink(missing_ok=True)
    build()
    stamp.write_text(wanted)
    print(f"  done in {time.perf_counter() - started:.1f}s")


# --- Measurement -----------------------------------------------------------------------------------------


def measure(label: str, command: list[str], megabytes: float, records_from: str) -> Run:
    """The fastest of REPEATS runs (the machine is shared; the minimum is the least disturbed), with the
    largest peak RSS seen."""
    runs = [measure_once(label, command, megabytes, records_from) for _ in range(REPEATS)]
    fastest = min(runs, key=lambda run: run.seconds)
    return Run(label, fastest.seconds, fastest.records, megabytes, max(run.peak_rss_mb for run in runs))


def measure_once(label: str, command: list[str], megabytes: float, records_from: str) -> Run:
    """Runs one command in a child process and reaps it with os.wait4, which reports that child's own
    peak RSS (RUSAGE_CHILDREN would give the largest over every child so far)."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode()
    if child.returncode not in {0, 1}:
        raise SystemExit(f"{label} failed ({child.returncode}): {errors}")
    records = int(output) if records_from == "stdout" else int(json.loads(output)[records_from])
    return Run(label, seconds, records, megabytes, usage.ru_maxrss / 1024)


def generate(seed: int, small: Path, large: Path, dataset_mb: int, *, logs: Path, logs_mb: int) -> None:
    DATA.mkdir(exist_ok=True)
    text = Text(random.Random(seed))

    # Each artifact has its own generator, so reusing one never changes the others.
    def rng(artifact: int) -> random.Random:
        return random.Random(seed * 10 + artifact)

    ensure(
        small,
        {"seed": seed, "records": 15_000},
        lambda: write_dataset(small, rng(1), text, records=15_000, megabytes=None),
    )
    ensure(
        large,
        {"seed": seed, "mb": dataset_mb},
        lambda: write_dataset(large, rng(2), text, records=None, megabytes=dataset_mb),
    )
    params = {"seed": seed, "mb": logs_mb, "per_file": RECORDS_PER_LOG_FILE}
    ensure(logs, params, lambda: write_logs(logs, rng(3), text, logs_mb))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--dataset-mb", type=int, default=1000)
    parser.add_argument("--logs-mb", type=int, default=200, help="compressed size of the log tree")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    small = DATA / f"dataset-15000-seed{args.seed}.jsonl"
    large = DATA / f"dataset-{args.dataset_mb}mb-seed{args.seed}.jsonl"
    logs = DATA / f"logs-{args.logs_mb}mb-seed{args.seed}"
    if args.generate_only:
        generate(args.seed, small, large, args.dataset_mb, logs=logs, logs_mb=args.logs_mb)
        return 0
    # Generated in a child: a child forked from a parent holding the text pool would report the
    # parent's pages in its own peak RSS.
    subprocess.run([sys.executable, __file__, *sys.argv[1:], "--generate-only"], check=True)

    python = sys.executable
    log_bytes = sum(path.stat().st_size for path in logs.rglob("*.json.gz"))
    log_raw_mb = _uncompressed_mb(logs)
    print(f"\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, orjson {orjson.__version__}")
    print(f"logs: {log_bytes / 1e6:.0f} MB gzip, {log_raw_mb:.0f} MB of JSON\n")
    print("| run | wall s | records/s | MB/s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    ratios = []
    for dataset in (small, large):
        mb = dataset.stat().st_size / 1e6
        floor = measure(
            f"parse floor, {dataset.name} ({mb:.0f} MB)", [python, "-c", PARSE_FLOOR, str(dataset)], mb, "stdout"
        )
        print(floor.row(), flush=True)
        run = measure(
            f"distill validate, {dataset.name}", [str(DISTILL), "validate", str(dataset), "--json"], mb, "records"
        )
        print(run.row(), flush=True)
        ratios.append(("validate", dataset.name, run, floor))
    floor = measure(
        f"gunzip+parse floor, {logs.name}", [python, "-c", GUNZIP_PARSE_FLOOR, str(logs)], log_raw_mb, "stdout"
    )
    print(floor.row(), flush=True)
    scan = [str(DISTILL), "logs", "scan", "--source", str(logs), "--teacher", TEACHER, "--json"]
    scan += ["--filter", '{"equals": {"project": "alpha"}}']
    run = measure(f"distill logs scan, {logs.name}", scan, log_raw_mb, "records")
    print(run.row(), flush=True)
    ratios.append(("logs scan", logs.name, run, floor))

    print(f"\n| command | input | time / floor | target | peak RSS MB (< {MAX_RSS_MB}) | met |")
    print("|---|---|---:|---:|---:|---|")
    for command, name, run, floor in ratios:
        ratio = run.seconds / floor.seconds
        met = ratio <= TARGETS[command] and run.peak_rss_mb < MAX_RSS_MB
        print(
            f"| {command} | {name} | {ratio:.2f}x | {TARGETS[command]:.0f}x | {run.peak_rss_mb:.0f} | "
            f"{'yes' if met else 'NO'} |"
        )
    return 0


def _uncompressed_mb(root: Path) -> float:
    total = 0
    for path in root.rglob("*.json.gz"):
        with gzip.open(path) as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
    return total / 1e6


if __name__ == "__main__":
    sys.exit(main())
