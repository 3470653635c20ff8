"""The operator subcommands as the CLI runs them: parsed arguments in, output and an exit code out.

Exit codes: 0 ok (for status/report: the execution is running or succeeded), 1 problems found (invalid
data, or an execution that failed, timed out or was aborted), 2 usage, configuration, I/O or AWS
error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rich.console import Console

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.workflow.errors import WorkflowError
from distill_cli.console import (
    GenerateProgress,
    StatusView,
    generate_document,
    print_generate_result,
    print_json,
    print_plan,
    print_report,
    print_runs,
    print_started,
    print_status,
    say,
)
from distill_cli.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE_OR_IO
from distill_cli.executions import described, resolve
from distill_cli.generate import (
    ADAPTIVE_RETRIES,
    GenerateSettings,
    ProgressFile,
    check_metadata,
    check_prompts,
    default_progress_path,
    generate_logs,
    parse_metadata,
    prompt_format,
    prompt_keys,
    read_prompts,
)
from distill_cli.listing import recent_runs
from distill_cli.report import gather_report, write_report
from distill_cli.session import AwsOptions, AwsSession
from distill_cli.stack import Stack, StackGateway
from distill_cli.start import Findings, StartAws, StartOptions, carry_out, plan_start
from distill_cli.status import Clock, RunStatus, SystemClock, run_status, watch

# Replaced in tests, so that --watch and elapsed times run on a fake clock.
CLOCK: Clock = SystemClock()

Command = Callable[["Context"], int]


@dataclass
class Context:
    args: argparse.Namespace
    clock: Clock
    console: Console = field(default_factory=lambda: Console(highlight=False))
    errors: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    @cached_property
    def aws(self) -> AwsSession:
        return AwsSession(AwsOptions(self.args.profile, self.args.region, self.args.endpoint_url))

    @cached_property
    def stack(self) -> Stack:
        return StackGateway(self.aws.lazy("cloudformation")).find(self.args.stack_name)

    @cached_property
    def executions(self) -> StepFunctionsGateway:
        return StepFunctionsGateway(self.aws.lazy("stepfunctions"))

    @cached_property
    def bedrock(self) -> BedrockGateway:
        return BedrockGateway(self.aws.lazy("bedrock"))

    def problem(self, line: str) -> None:
        say(self.console, line)


def run(command: Command, args: argparse.Namespace) -> int:
    """Runs an operator command; what it raises is mapped to an exit code by `main`, the CLI's one edge."""
    return command(Context(args, CLOCK))


# start ----------------------------------------------------------------------------------------------------


def start(context: Context) -> int:
    args = context.args
    options = StartOptions(
        prompts=args.prompts,
        logs=args.logs,
        filter=args.filter,
        teacher=args.teacher,
        student=args.student,
        validation_prompts=args.validation_prompts,
        name=args.name,
        use_prompt_response=args.use_prompt_response,
        model_units=args.model_units,
        validation_sample_size=args.validation_sample_size,
        serving_mode=args.serving,
        keep_deployment=args.keep_deployment,
        scan_logs=not args.skip_log_scan,
        dry_run=args.dry_run,
    )
    aws = StartAws(stack=lambda: context.stack, s3=lambda: context.aws.s3, region=lambda: context.aws.configured_region)
    # With --json, the checks' lines go to stderr and stdout carries one JSON object.
    lines = context.errors if args.json else context.console
    findings = Findings(on_problem=lambda line: say(lines, line), on_note=lambda line: say(lines, line))
    plan = plan_start(options, aws, context.clock.now(), findings)
    if findings.problems:
        if args.json:
            print_json(context.console, {"started": False, "problems": findings.problems} | plan.to_dict())
        say(lines, f"not started: {findings.problems} problem(s) above; nothing was uploaded", "red")
        return EXIT_PROBLEMS
    if args.dry_run:
        if args.json:
            print_json(context.console, {"started": False, "dryRun": True} | plan.to_dict())
        else:
            print_plan(context.console, plan)
        return EXIT_OK
    started = carry_out(plan, context.stack, context.aws.s3, context.executions)
    if args.json:
        print_json(context.console, {"started": True} | started.to_dict())
    else:
        print_started(context.console, started)
    return EXIT_OK


# status ---------------------------------------------------------------------------------------------------


def status(context: Context) -> int:
    args = context.args
    arn = resolve(context.executions, context.stack.state_machine_arn, args.execution)

    def fetch() -> RunStatus:
        return run_status(context.executions, context.bedrock, arn, context.clock.now())

    if args.watch and not args.json:
        with StatusView(context.console) as view:
            final = watch(fetch, view.show, context.clock, args.interval)
        if not context.console.is_terminal:
            print_status(context.console, final)
    else:
        # --watch --json: silent until the end, then the final status as one JSON object.
        final = watch(fetch, lambda _: None, context.clock, args.interval) if args.watch else fetch()
        if args.json:
            print_json(context.console, final.to_dict())
        else:
            print_status(context.console, final)
    return EXIT_PROBLEMS if final.finished and not final.succeeded else EXIT_OK


# list -----------------------------------------------------------------------------------------------------


def list_runs(context: Context) -> int:
    args = context.args
    runs = recent_runs(context.executions, context.stack.state_machine_arn, args.max, args.status)
    now = context.clock.now()
    if args.json:
        print_json(context.console, [run.to_dict(now) for run in runs])
    else:
        print_runs(context.console, runs, now)
    return EXIT_OK


# report ---------------------------------------------------------------------------------------------------


def report(context: Context) -> int:
    args = context.args
    arn = resolve(context.executions, context.stack.state_machine_arn, args.execution)
    execution = described(context.executions, arn)
    gathered = gather_report(execution, context.stack, context.executions, context.bedrock, context.aws.s3)
    out_dir = Path(args.out or f"distill-report-{execution.name}")
    write_report(gathered, out_dir)
    if args.json:
        print_json(context.console, gathered.to_dict() | {"files": [str(path) for path in gathered.files]})
    else:
        print_report(context.console, gathered)
    return EXIT_PROBLEMS if execution.finished and not gathered.succeeded else EXIT_OK


# generate-logs --------------------------------------------------------------------------------------------


def generate(context: Context) -> int:
    args = context.args
    metadata = parse_metadata(args.metadata)
    problems = check_metadata(metadata)
    if args.concurrency < 1:
        problems.append("--concurrency must be at least 1")
    for line in problems:
        print(f"distill: {line}", file=sys.stderr)
    if problems:
        return EXIT_USAGE_OR_IO
    fmt = prompt_format(args.prompts, args.format)
    # With --json, the problems go to stderr and stdout carries one JSON object.
    lines = context.errors if args.json else context.console
    invalid = check_prompts(args.prompts, fmt, lambda problem: say(lines, problem.render()))
    if invalid:
        if args.json:
            print_json(context.console, {"sent": 0, "invalidRecords": invalid, "prompts": args.prompts})
        say(lines, f"not sent: {invalid} invalid record(s) in {args.prompts}", "red")
        return EXIT_PROBLEMS

    settings = GenerateSettings(
        teacher_model_id=args.teacher,
        request_metadata=metadata,
        concurrency=args.concurrency,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        max_attempts=args.max_attempts,
    )
    progress_path = Path(args.progress_file) if args.progress_file else default_progress_path(args.prompts)
    # Read the whole file once before anything is written: a bad line stops the run before any call.
    keys = prompt_keys(read_prompts(args.prompts, fmt, args.system))
    progress = ProgressFile(progress_path, settings.teacher_model_id, metadata)
    done = progress.open() & keys
    try:
        _warn_if_not_logging(context)
        gateway = BedrockRuntimeGateway(
            context.aws.lazy(
                "bedrock-runtime", retries=ADAPTIVE_RETRIES, max_pool_connections=max(10, args.concurrency)
            )
        )
        with GenerateProgress(context.errors, len(keys), len(done), enabled=not args.no_progress) as bar:
            result = generate_logs(
                read_prompts(args.prompts, fmt, args.system),
                total=len(keys),
                done=done,
                gateway=gateway,
                settings=settings,
                progress=progress,
                sink=bar,
            )
    except KeyboardInterrupt:
        print(
            f"distill: aborted with calls in flight; those prompts may be sent again on resume ({progress_path})",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    if args.json:
        print_json(context.console, generate_document(result, settings, str(progress_path)))
    else:
        print_generate_result(context.console, result, settings, str(progress_path))
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.failure:
        return EXIT_USAGE_OR_IO
    return EXIT_OK


def _warn_if_not_logging(context: Context) -> None:
    """Calls made while invocation logging is off leave nothing to distil from: say so before sending."""
    try:
        configuration = context.bedrock.invocation_logging()
    except WorkflowError as error:
        say(context.errors, f"warning: could not read the invocation logging configuration ({error})", "yellow")
        return
    if not configuration or "s3Config" not in configuration or not configuration.get("textDataDeliveryEnabled"):
        say(
            context.errors,
            f"warning: model invocation logging to S3 is not enabled in {context.aws.region}: these calls will "
            "not be logged, so no job can distil from them (deploying the stack enables it)",
            "yellow",
        )
