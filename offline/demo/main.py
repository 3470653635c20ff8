"""The demo's entry point: synthesizes the stack, deploys the world, plays the scenes, closes with the check."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console

from offline import demo as demo_package
from offline.bedrock_emulator import BedrockEmulator
from offline.demo.check import check_nothing_left, print_iam_summary
from offline.demo.scenes import forgotten_pt, invocation_logs, upload
from offline.demo.summary import DEFAULT_HOURLY_RATE_USD, RATE_DISCLAIMER
from offline.demo.world import EVENT_RULES, deploy_context, deployed_world, synthesize_stack
from offline.iam.enforcer import Enforcer


@dataclass(frozen=True)
class DemoRun:
    """How the demo ended, and the records its figures can be checked against: the emulator's own (jobs,
    Provisioned Throughputs, every Bedrock call) and the IAM enforcer's (every authorization and denial)."""

    exit_code: int
    bedrock: BedrockEmulator
    enforcer: Enforcer


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    description = (demo_package.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m offline.demo", description=description)
    parser.add_argument(
        "--hourly-rate",
        type=float,
        default=DEFAULT_HOURLY_RATE_USD,
        help=f"USD per model unit-hour for the cost estimate; default {DEFAULT_HOURLY_RATE_USD} ({RATE_DISCLAIMER})",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("demo-output"), help="where the PNG goes")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated support tickets")
    return parser.parse_args(argv)


def demo_console(file: IO[str] | None = None) -> Console:
    """The demo's console on `file` (stdout by default): a live view on a terminal, plain lines otherwise."""
    # soft_wrap: ARNs and URIs stay on one line, whole, in narrow terminals and in CI logs alike.
    # markup and highlighting off: causes and ARNs are data, printed as they are, without colour noise.
    return Console(file=file, soft_wrap=True, markup=False, highlight=False)


def run_demo(arguments: argparse.Namespace, console: Console) -> DemoRun:
    """The whole demo in this process, which must already hold a hermetic AWS environment."""
    started = time.monotonic()
    context = deploy_context(arguments.hourly_rate, upload.UPLOAD_SETTINGS["studentModelId"])
    template = synthesize_stack(context, console)
    with deployed_world(template) as world:
        pipeline, names = world.pipeline, world.pipeline.names
        console.print(f"Deployed {pipeline.state_machine_arn} from the stack's definition")
        console.print(
            f"  {len(pipeline.lambdas.handlers)} functions; buckets {names.input_bucket}, {names.output_bucket}, "
            f"{names.invocation_log_bucket}; topic {pipeline.topic_arn}"
        )
        console.print(f"  EventBridge rules {', '.join(EVENT_RULES)}: SQS stand-in targets drained into the handlers")
        try:
            distilled, answered = invocation_logs.play(
                world, console, seed=arguments.seed, output_dir=arguments.output_dir, hourly_rate=arguments.hourly_rate
            )
            uploaded, dataset_uri = upload.play(world, answered, console)
            cleaned_up = forgotten_pt.play(world, dataset_uri, console)
        finally:
            # Whatever happened above, the demo ends by looking for Provisioned Throughput left billing.
            nothing_left = check_nothing_left(console, world)
            nothing_denied = print_iam_summary(console, world)
    code = 0 if distilled and uploaded and cleaned_up and nothing_left and nothing_denied else 1
    console.print(f"Demo finished in {time.monotonic() - started:.1f} s wall time, exit code {code}")
    assert pipeline.enforcer is not None  # set by deploy(), kept after teardown
    return DemoRun(code, world.bedrock, pipeline.enforcer)


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(parse_arguments(argv), demo_console()).exit_code
