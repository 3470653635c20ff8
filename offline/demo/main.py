"""The demo's entry point: synthesizes the stack for each Region, deploys each world, plays its scenes, closes each
with the check."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console

from offline import demo as demo_package
from offline.bedrock_emulator import BedrockEmulator
from offline.demo.check import check_nothing_left, print_iam_summary
from offline.demo.scenes import forgotten_pt, invocation_logs, upload
from offline.demo.summary import DEFAULT_HOURLY_RATE_USD, RATE_DISCLAIMER
from offline.demo.tickets import PROJECT
from offline.demo.world import (
    EVENT_RULES,
    ON_DEMAND_REGION,
    PROVISIONED_REGION,
    World,
    deploy_context,
    deployed_world,
    in_region,
    print_synthesized,
    synthesize_template,
)
from offline.iam.enforcer import Enforcer

# The share of held-out prompts the emulator's distilled students answer as their teacher would (its fidelity
# knob): a demo setting, so the Llama student is the worse one and is held, and the Nova student is promoted. The
# emulator's draw is fixed by the base model and the prompt, so the demo's decisions are the same in every run.
STUDENT_FIDELITY = {PROVISIONED_REGION: 0.6, ON_DEMAND_REGION: 0.9}
NOVA_EXECUTION_NAME = f"{PROJECT}-nova"
NOVA_TITLE = f"Amazon Nova Pro -> Nova Lite, served on demand ({ON_DEMAND_REGION})"
NOVA_JOB_STEPS = 4


@dataclass(frozen=True)
class WorldRecords:
    """One world's records, which the demo's figures can be checked against: the emulator's own (jobs, Provisioned
    Throughputs, deployments, evaluation jobs, every Bedrock call) and the IAM enforcer's (every authorization and
    denial)."""

    region: str
    bedrock: BedrockEmulator
    enforcer: Enforcer


@dataclass(frozen=True)
class DemoRun:
    """How the demo ended, and each world's records by Region."""

    exit_code: int
    worlds: dict[str, WorldRecords]


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
    """The whole demo in this process, which must already hold a hermetic AWS environment: the us-west-2 world
    (the Llama pair on Provisioned Throughput, an upload, a forgotten PT), then the us-east-1 world (the Nova pair
    on demand), whose stack is synthesized in the background while the first world plays."""
    started = time.monotonic()
    rate = arguments.hourly_rate
    provisioned_context = deploy_context(PROVISIONED_REGION, rate, upload.UPLOAD_SETTINGS["studentModelId"])
    template, seconds = synthesize_template(PROVISIONED_REGION, provisioned_context)
    print_synthesized(console, PROVISIONED_REGION, template, seconds)
    worlds: dict[str, WorldRecords] = {}
    # jsii runs the second synthesis in its own node process: in a thread it overlaps the first world's scenes,
    # which wait on moto and the emulator most of the time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth") as background:
        on_demand_synth = background.submit(
            synthesize_template, ON_DEMAND_REGION, deploy_context(ON_DEMAND_REGION, rate)
        )
        with in_region(PROVISIONED_REGION), deployed_world(template, STUDENT_FIDELITY[PROVISIONED_REGION]) as world:
            provisioned_ok = _play_provisioned_world(world, arguments, console)
            worlds[PROVISIONED_REGION] = _records(world)
        waiting = time.monotonic()
        template, seconds = on_demand_synth.result()
    print_synthesized(
        console,
        ON_DEMAND_REGION,
        template,
        seconds,
        f" in the background while {PROVISIONED_REGION} played ({time.monotonic() - waiting:.1f} s waited for it)",
    )
    with in_region(ON_DEMAND_REGION), deployed_world(template, STUDENT_FIDELITY[ON_DEMAND_REGION]) as world:
        on_demand_ok = _play_on_demand_world(world, arguments, console)
        worlds[ON_DEMAND_REGION] = _records(world)
    code = 0 if provisioned_ok and on_demand_ok else 1
    console.print(f"Demo finished in {time.monotonic() - started:.1f} s wall time, exit code {code}")
    return DemoRun(code, worlds)


def _announce(world: World, console: Console) -> None:
    pipeline, names = world.pipeline, world.pipeline.names
    console.print(f"Deployed {pipeline.state_machine_arn} from the stack's definition")
    console.print(
        f"  {len(pipeline.lambdas.handlers)} functions; buckets {names.input_bucket}, {names.output_bucket}, "
        f"{names.invocation_log_bucket}; topic {pipeline.topic_arn}"
    )
    console.print(f"  EventBridge rules {', '.join(EVENT_RULES)}: SQS stand-in targets drained into the handlers")
    console.print(
        f"  The emulator's distilled students answer {STUDENT_FIDELITY[world.region]:.0%} of prompts as their "
        "teacher would (its fidelity knob, a demo setting): the judge scores what they answer"
    )


def _play_provisioned_world(world: World, arguments: argparse.Namespace, console: Console) -> bool:
    """The Llama pair on Provisioned Throughput, judged; an upload starts a run; a forgotten PT is cleaned up."""
    _announce(world, console)
    try:
        distilled, answered, scorecard = invocation_logs.play(
            world, console, seed=arguments.seed, output_dir=arguments.output_dir, hourly_rate=arguments.hourly_rate
        )
        uploaded, dataset_uri = upload.play(world, answered, console)
        cleaned_up = forgotten_pt.play(world, dataset_uri, console)
    finally:
        # Whatever happened above, the world ends by looking for serving left behind.
        nothing_left = check_nothing_left(console, world)
        nothing_denied = print_iam_summary(console, world)
    return distilled and scorecard is not None and uploaded and cleaned_up and nothing_left and nothing_denied


def _play_on_demand_world(world: World, arguments: argparse.Namespace, console: Console) -> bool:
    """The Nova pair, its student deployed for on-demand inference (no PT bought), judged."""
    _announce(world, console)
    try:
        distilled, _, scorecard = invocation_logs.play(
            world,
            console,
            seed=arguments.seed,
            output_dir=arguments.output_dir,
            hourly_rate=arguments.hourly_rate,
            execution_name=NOVA_EXECUTION_NAME,
            title=NOVA_TITLE,
            job_steps=NOVA_JOB_STEPS,
            file_suffix="-nova",
        )
    finally:
        nothing_left = check_nothing_left(console, world)
        nothing_denied = print_iam_summary(console, world)
    return distilled and scorecard is not None and nothing_left and nothing_denied


def _records(world: World) -> WorldRecords:
    assert world.pipeline.enforcer is not None  # set by deploy(), kept after teardown
    return WorldRecords(world.region, world.bedrock, world.pipeline.enforcer)


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(parse_arguments(argv), demo_console()).exit_code
