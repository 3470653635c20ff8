"""generate-logs benchmark: throughput at concurrency N against N times the sequential rate.

Runs ``distill generate-logs``'s engine (the same AwsSession, BedrockRuntimeGateway, progress file and
scheduler the command uses; only argument parsing and the progress bar are left out) against moto and
the Bedrock emulator, whose Converse sleeps ``--latency`` seconds per call outside its lock, as the
service's latency would be. Each concurrency starts from a fresh progress file.

Two tables: invocation logging off, which measures what the caller does on AWS, and on, where the
emulator also gzips and writes each call's log object to moto's S3 inside this process: work Bedrock does
on its own side, which here competes for the caller's CPU and GIL.

The default latency, 0.5 s, is still below what a 70B teacher takes to answer a prompt; at 0.05 s
(`--latency 0.05`) the in-process S3 writes become the bottleneck at concurrency 16 with logging on.

Sequential is concurrency 1; AWS's notebook loop (a bare ``for`` over ``converse``) is printed
beside it for reference. The target: at concurrency N, at least 0.8 x N times the sequential rate.

    .venv/bin/python bench/generate_logs_bench.py [--prompts 96] [--latency 0.5] [--concurrency 4 8 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# Hermetic: fake credentials and one Region, set before boto3 is imported; moto answers everything else.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)
os.environ.pop("AWS_PROFILE", None)

import boto3
from moto import mock_aws

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from distill_cli.generate import (
    ADAPTIVE_RETRIES,
    GenerateResult,
    GenerateSettings,
    ProgressFile,
    generate_logs,
    prompt_keys,
    read_prompts,
)
from distill_cli.session import AwsSession
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator

TEACHER = "meta.llama3-1-70b-instruct-v1:0"
METADATA = {"project": "bench", "run": "generate-logs"}
LOG_BUCKET = "bench-invocation-logs"
TARGET_FRACTION = 0.8


def run_generate_logs(prompts: Path, workdir: Path, concurrency: int) -> GenerateResult:
    keys = prompt_keys(read_prompts(str(prompts), "text"))
    progress = ProgressFile(workdir / f"progress-{concurrency}", TEACHER, METADATA)
    done = progress.open()
    session = AwsSession()
    gateway = BedrockRuntimeGateway(
        session.lazy("bedrock-runtime", retries=ADAPTIVE_RETRIES, max_pool_connections=max(10, concurrency))
    )
    try:
        return generate_logs(
            read_prompts(str(prompts), "text"),
            total=len(keys),
            done=done,
            gateway=gateway,
            settings=GenerateSettings(teacher_model_id=TEACHER, request_metadata=METADATA, concurrency=concurrency),
            progress=progress,
        )
    finally:
        progress.close()


def notebook_loop(prompts: Path) -> float:
    """Prompts per second of AWS's notebook step 2: one converse after another."""
    runtime = boto3.client("bedrock-runtime")
    lines = [line for line in prompts.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    for line in lines:
        runtime.converse(
            modelId=TEACHER,
            messages=[{"role": "user", "content": [{"text": line}]}],
            inferenceConfig={"maxTokens": 1000},
            requestMetadata=METADATA,
        )
    return len(lines) / (time.perf_counter() - started)


def logged_objects() -> int:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=LOG_BUCKET, Prefix="logs/AWSLogs/")
    return sum(1 for page in pages for item in page.get("Contents", []) if item["Key"].endswith(".json.gz"))


def measure(args: argparse.Namespace, logging: str) -> tuple[bool, bool]:
    """Prints one table; returns (every target met, every prompt sent exactly once per run)."""
    with tempfile.TemporaryDirectory() as directory, mock_aws():
        workdir = Path(directory)
        prompts = workdir / "prompts.txt"
        prompts.write_text("".join(f"Summarise support ticket {index} in one line.\n" for index in range(args.prompts)))
        emulator: BedrockEmulator
        with bedrock_emulator(converse_latency_seconds=args.latency) as emulator:
            boto3.client("s3").create_bucket(Bucket=LOG_BUCKET)
            if logging == "on":
                boto3.client("bedrock").put_model_invocation_logging_configuration(
                    loggingConfig={
                        "s3Config": {"bucketName": LOG_BUCKET, "keyPrefix": "logs"},
                        "textDataDeliveryEnabled": True,
                    }
                )
            print(
                f"\n{args.prompts} prompts per run, emulated Converse latency {args.latency * 1000:.0f} ms, "
                f"invocation logging to S3 {logging}; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n",
                flush=True,
            )
            loop_rate = notebook_loop(prompts)
            sequential = run_generate_logs(prompts, workdir, 1)
            base = sequential.prompts_per_second
            results = [(1, sequential)]
            for concurrency in args.concurrency:
                results.append((concurrency, run_generate_logs(prompts, workdir, concurrency)))
            calls = emulator.call_count("Converse")
            logged = logged_objects()

    print("| run | concurrency | seconds | prompts/s | speed-up | rate / (N x sequential) | target | met |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| notebook loop (reference) | 1 | {args.prompts / loop_rate:.2f} | {loop_rate:.1f} | "
        f"{loop_rate / base:.2f}x | - | - | - |"
    )
    all_met = True
    for concurrency, result in results:
        ratio = result.prompts_per_second / (concurrency * base)
        met = ratio >= TARGET_FRACTION and result.complete
        all_met &= met or concurrency == 1
        print(
            f"| generate-logs | {concurrency} | {result.elapsed_seconds:.2f} | {result.prompts_per_second:.1f} | "
            f"{result.prompts_per_second / base:.2f}x | {ratio:.2f} | "
            + (f"{TARGET_FRACTION:.1f} | {'yes' if met else 'NO'} |" if concurrency > 1 else "- | - |")
        )
    expected_calls = args.prompts * (2 + len(args.concurrency))
    print(f"\nConverse calls: {calls} for {expected_calls} prompt sends; invocation log objects written: {logged}")
    exactly_once = calls == expected_calls and logged == (expected_calls if logging == "on" else 0)
    if not exactly_once:
        print("NO: some prompt was sent more than once, or not at all")
    return all_met, exactly_once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--prompts", type=int, default=96, help="prompts per run (default: 96)")
    parser.add_argument("--latency", type=float, default=0.5, help="emulated Converse latency, s (default: 0.5)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16], help="default: 4 8 16")
    parser.add_argument(
        "--logging",
        choices=["off", "on"],
        nargs="+",
        default=["off", "on"],
        help="invocation logging to S3, one table each (default: off on)",
    )
    args = parser.parse_args(argv)
    outcomes = [measure(args, logging) for logging in args.logging]
    # Like the preflight benchmark, a missed target is reported, not failed; a prompt sent twice fails.
    return 0 if all(exactly_once for _, exactly_once in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
