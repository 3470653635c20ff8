"""The ``distill`` command line.

Each command is one small ``_add_<command>`` function that declares its arguments and the function
that runs it; ``main`` only parses and dispatches. Exit codes everywhere: 0 valid, 1 invalid,
2 usage or I/O error (argparse exits 2 on its own usage errors); the operator commands add 130 for
an interrupted run.

``validate``, ``convert``, ``filter check`` and ``logs scan`` work on data alone. ``start``, ``status``, ``list``,
``report`` and ``generate-logs`` work on a deployed stack; their logic is ``distill_cli``,
imported only when one of them runs, so the data commands start fast and never import boto3 (``convert``'s
code is CLI-only, ``distill_cli.convert``, and likewise imported when it runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any, get_args

from bedrock_distill.catalog import student_problem
from bedrock_distill.preflight import (
    DatasetReport,
    Problem,
    ScanReport,
    SourceError,
    parse_filter,
    scan_logs,
    validate_dataset,
)
from bedrock_distill.preflight.dataset import CHARS_PER_TOKEN
from bedrock_distill.preflight.problems import REPEATS_SHOWN
from bedrock_distill.preflight.sources import read_chunks
from bedrock_distill.project import STACK_NAME
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.run import ServingModeRequest
from distill_cli.errors import (
    EXIT_CLOSED_PIPE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE_OR_IO,
    OperatorError,
    explained,
)

Subcommands = Any  # argparse's _SubParsersAction is private
Runner = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    runner: Runner = args.run
    try:
        code = runner(args)
        sys.stdout.flush()  # here, where a closed pipe can still be handled, not at interpreter exit
    except (SourceError, OperatorError) as error:
        print(f"distill: {error}", file=sys.stderr)
        return EXIT_USAGE_OR_IO
    except WorkflowError as error:
        # A named error from the runtime's gateways: mapped to an exit code here, at the CLI's one edge.
        print(f"distill: {explained(error)}", file=sys.stderr)
        return EXIT_USAGE_OR_IO
    except KeyboardInterrupt:
        print("distill: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`distill validate FILE | head -1`): stop quietly. As CPython's signal docs
        # advise, point stdout at devnull so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
    return code


class _PackageVersion(argparse.Action):
    """`--version` from the package metadata, read only when asked: importlib.metadata costs every `distill`
    call about 30 ms of start-up otherwise."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version  # noqa: PLC0415 - see the class docstring

        print(f"{parser.prog} {version('bedrock-distill')}")
        parser.exit()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Amazon Bedrock Model Distillation as code. Exit codes: 0 valid (or done), 1 invalid (or a "
        "failed run), 2 usage, I/O or AWS error, 130 interrupted (Ctrl-C), 141 output pipe closed.",
    )
    parser.add_argument("--version", action=_PackageVersion, help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_validate(commands)
    _add_convert(commands)
    _add_filter(commands)
    _add_logs(commands)
    aws = _aws_options()
    stack = _stack_options()
    _add_start(commands, [aws, stack])
    _add_status(commands, [aws, stack])
    _add_list(commands, [aws, stack])
    _add_report(commands, [aws, stack])
    _add_generate_logs(commands, [aws])
    _add_doctor(commands, [aws, stack])
    return parser


# --- distill validate ----------------------------------------------------------------------------------


def _add_validate(commands: Subcommands) -> None:
    command = commands.add_parser(
        "validate",
        help="check a bedrock-conversation-2024 JSONL dataset",
        description="Check a bedrock-conversation-2024 JSONL dataset; one PATH:LINE: FIELD: reason per problem.",
    )
    command.add_argument("path", metavar="PATH", help="a local .jsonl file or s3://bucket/key")
    command.add_argument(
        "--student", metavar="MODEL_ID", help="the student model: Meta and Anthropic students need single-turn records"
    )
    command.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    command.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    # A typo must not quietly turn the single-turn check off.
    if args.student and (problem := student_problem(args.student)):
        print(f"distill: --student: {problem}", file=sys.stderr)
        return EXIT_USAGE_OR_IO
    report = validate_dataset(
        args.path, args.student, on_problem=None if args.json else _print_problem, repeats_shown=REPEATS_SHOWN
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        _print_dataset_summary(report)
    return EXIT_OK if report.is_valid else EXIT_PROBLEMS


def _print_dataset_summary(report: DatasetReport) -> None:
    print(
        f"{report.source}: {report.records:,} records, {report.valid:,} valid, {report.invalid:,} invalid, "
        f"{report.blank_lines:,} blank lines\n"
        f"  single-turn: {report.single_turn:,}, multi-turn: {report.multi_turn:,}, "
        f"with golden answers: {report.with_golden_answer:,}, duplicate prompts: {report.duplicate_prompts:,}\n"
        f"  estimated input tokens: {report.estimated_input_tokens:,} (characters / {CHARS_PER_TOKEN}, a heuristic)\n"
        f"  errors: {report.errors:,}, warnings: {report.warnings:,}"
    )
    _print_verdict(report.verdict, report.verdict_reasons)


# --- distill convert -----------------------------------------------------------------------------------


def _add_convert(commands: Subcommands) -> None:
    command = commands.add_parser(
        "convert",
        help="convert prompt/completion JSONL, OpenAI chat JSONL or CSV to bedrock-conversation-2024",
        description="Convert a dataset to bedrock-conversation-2024 JSONL, streaming, then validate the output as "
        "`distill validate` does. A record that cannot be converted is refused (not written) with "
        "PATH:LINE: FIELD: reason. Exit 0 when every record was written and the output is valid, 1 otherwise.",
    )
    command.add_argument("input", metavar="INPUT", help="a local file or s3://bucket/key (gzip is read too)")
    command.add_argument(
        "--from",
        dest="input_format",
        required=True,
        choices=["prompt-completion", "openai-chat", "csv"],
        help="the input's format",
    )
    command.add_argument(
        "--output",
        metavar="OUT",
        help="a local .jsonl file or s3://bucket/key (default: INPUT.bedrock.jsonl beside it)",
    )
    command.add_argument("--system", metavar="TEXT", help="a system prompt for every record that has none of its own")
    command.add_argument("--prompt-column", metavar="NAME", help="--from csv: the prompt column (default: prompt)")
    command.add_argument(
        "--completion-column",
        metavar="NAME",
        help="--from csv: the golden-answer column (default: completion, when the header has it)",
    )
    command.add_argument(
        "--student", metavar="MODEL_ID", help="the student model: Meta and Anthropic students need single-turn records"
    )
    command.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    command.set_defaults(run=_run_convert)


def _run_convert(args: argparse.Namespace) -> int:
    from distill_cli.convert import (  # noqa: PLC0415 - CLI-only code, loaded when it runs
        ConvertOptions,
        ConvertUsageError,
        InputFormat,
        convert_dataset,
    )

    if args.student and (problem := student_problem(args.student)):
        print(f"distill: --student: {problem}", file=sys.stderr)
        return EXIT_USAGE_OR_IO
    options = ConvertOptions(
        InputFormat(args.input_format), args.system, args.prompt_column, args.completion_column, args.student
    )
    show = None if args.json else _print_problem
    try:
        report = convert_dataset(
            args.input, args.output, options, on_problem=show, on_validation_problem=show, repeats_shown=REPEATS_SHOWN
        )
    except ConvertUsageError as error:
        print(f"distill: {error}", file=sys.stderr)
        return EXIT_USAGE_OR_IO
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK if report.is_valid else EXIT_PROBLEMS
    refused = f"{report.refused:,} refused" + (" (not written: see the lines above)" if report.refused else "")
    print(
        f"{report.source}: {report.records:,} {report.input_format.value} records, {report.written:,} written, "
        f"{refused}, {report.blank_lines:,} blank lines skipped\n"
        f"wrote {report.output}; validated as `distill validate` does:"
    )
    _print_dataset_summary(report.validation)
    if report.refused:
        print(f"incomplete: {report.refused:,} records refused; fix them in {report.source} and convert again")
    return EXIT_OK if report.is_valid else EXIT_PROBLEMS


# --- distill filter check -------------------------------------------------------------------------------


def _add_filter(commands: Subcommands) -> None:
    command = commands.add_parser("filter", help="requestMetadataFilters tools")
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="check a requestMetadataFilters document",
        description="Check a requestMetadataFilters document exactly as the Bedrock API defines it.",
    )
    check.add_argument("filter", metavar="FILE_OR_JSON", help="a JSON file (local or s3://) or inline JSON text")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    check.set_defaults(run=_run_filter_check)


def _run_filter_check(args: argparse.Namespace) -> int:
    label, text = _json_argument(args.filter)
    document, violations = parse_filter(text)
    if args.json:
        _print_json(
            {
                "source": label,
                "filter": document,
                "violations": [violation.to_dict() for violation in violations],
                "verdict": "invalid" if violations else "valid",
            }
        )
    else:
        for violation in violations:
            print(violation.located(label))
        _print_verdict("invalid" if violations else "valid", [f"{len(violations)} violations"] if violations else [])
    return EXIT_PROBLEMS if violations else EXIT_OK


def _json_argument(value: str) -> tuple[str, bytes]:
    """Inline JSON when the argument looks like JSON, else the contents of the file it names."""
    if value.lstrip().startswith(("{", "[")):
        return "<argument>", value.encode()
    return value, b"".join(read_chunks(value))


# --- distill logs scan ----------------------------------------------------------------------------------


def _add_logs(commands: Subcommands) -> None:
    command = commands.add_parser("logs", help="Bedrock invocation log tools")
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    scan = actions.add_parser(
        "scan",
        help="count what a distillation job would get from invocation logs",
        description="Count the records a distillation job would use from invocation logs, and why others are excluded.",
    )
    scan.add_argument("--source", required=True, metavar="DIR_OR_S3_URI", help="a log directory, file or s3:// prefix")
    scan.add_argument("--filter", metavar="FILE_OR_JSON", help="requestMetadataFilters, as a file or inline JSON")
    scan.add_argument("--teacher", metavar="MODEL_ID", help="the teacher model id, exactly as the logs record it")
    scan.add_argument(
        "--use-prompt-response",
        action="store_true",
        help="use logged responses too: only records whose modelId is exactly the teacher count",
    )
    scan.add_argument("--workers", type=int, metavar="N", help="files read concurrently (default: 8 for S3, else CPUs)")
    scan.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    scan.set_defaults(run=_run_logs_scan, parser=scan)


def _run_logs_scan(args: argparse.Namespace) -> int:
    if args.use_prompt_response and not args.teacher:
        args.parser.error("--use-prompt-response needs --teacher: pairs must come from exactly the teacher")
    metadata_filter = None
    if args.filter is not None:
        label, text = _json_argument(args.filter)
        metadata_filter, violations = parse_filter(text)
        if violations:
            for violation in violations:
                print(f"distill: --filter {violation.located(label)}", file=sys.stderr)
            return EXIT_USAGE_OR_IO
    report = scan_logs(
        args.source,
        metadata_filter,
        args.teacher,
        args.use_prompt_response,
        on_problem=None if args.json else _print_problem,
        workers=args.workers,
        repeats_shown=REPEATS_SHOWN,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        _print_scan_summary(report)
    return EXIT_OK if report.is_valid else EXIT_PROBLEMS


def _print_scan_summary(report: ScanReport) -> None:
    pairs_from = f"from {report.teacher_model_id}" if report.teacher_model_id else "from any model"
    excluded = ", ".join(f"{reason} {count:,}" for reason, count in report.excluded.items() if count) or "none"
    used_kind = "prompt-response pairs" if report.use_prompt_response else "prompts"
    print(
        f"{report.source}: {report.files_read:,} files read, {report.files_skipped:,} skipped (not logs), "
        f"{report.files_unreadable:,} unreadable\n"
        f"  records: {report.records:,}, matching the filter: {report.records_matching_filter:,}, "
        f"not matching: {report.records_not_matching_filter:,}\n"
        f"  usable prompts: {report.usable_prompts:,}, usable prompt-response pairs: "
        f"{report.usable_prompt_response_pairs:,} ({pairs_from})\n"
        f"  excluded: {excluded}\n"
        f"  the job would use {report.used:,} {used_kind}"
    )
    if report.problems_truncated:
        print(f"  ({report.errors + report.warnings - len(report.problems):,} more problems not shown)")
    _print_verdict(report.verdict, report.verdict_reasons)


# --- Operator commands: a deployed stack ----------------------------------------------------------------


def _operator(name: str) -> Runner:
    def runner(args: argparse.Namespace) -> int:
        from distill_cli import commands  # noqa: PLC0415 - see the module docstring

        command: Callable[[Any], int] = getattr(commands, name)
        return commands.run(command, args)

    return runner


def _aws_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("AWS options (as for the AWS CLI)")
    group.add_argument(
        "--endpoint-url", metavar="URL", help="send every AWS request to this URL (e.g. LocalStack) instead"
    )
    group.add_argument("--profile", metavar="NAME", help="a named profile from the shared AWS config files")
    group.add_argument(
        "--region", metavar="REGION", help="the AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)"
    )
    return parent


def _stack_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--stack-name",
        metavar="NAME",
        default=STACK_NAME,
        help=f"the deployed CloudFormation stack whose outputs locate the pipeline (default: {STACK_NAME})",
    )
    return parent


def _add_start(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "start",
        parents=parents,
        help="check the data here, then start a distillation run",
        description="Check the training data with the preflight code, upload local files under the stack's "
        "InputLocation, start an execution and print its ARN and console link. Nothing is uploaded or started "
        "while a check fails (exit 1).",
    )
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompts", metavar="FILE_OR_S3_URI", help="bedrock-conversation-2024 JSONL prompts")
    source.add_argument(
        "--logs",
        nargs="?",
        const="",
        metavar="S3_URI",
        help="distil from invocation logs (default: the stack's InvocationLogSource)",
    )
    command.add_argument("--filter", metavar="FILE_OR_JSON", help="requestMetadataFilters (required with --logs)")
    command.add_argument("--teacher", metavar="MODEL_ID", help="the teacher (default: the stack's TeacherModelId)")
    command.add_argument("--student", metavar="MODEL_ID", help="the student (default: the stack's StudentModelId)")
    command.add_argument(
        "--validation-prompts",
        metavar="FILE_OR_S3_URI",
        help="held-out bedrock-conversation-2024 prompts for validation (required with --logs)",
    )
    command.add_argument("--use-prompt-response", action="store_true", help="with --logs: use the logged responses")
    command.add_argument("--name", metavar="NAME", help="the execution name (default: distill-<UTC time>-<random>)")
    command.add_argument("--model-units", type=int, metavar="N", help="Provisioned Throughput model units")
    command.add_argument("--validation-sample-size", type=int, metavar="N", help="validation prompts to run (1-500)")
    command.add_argument(
        "--serving",
        choices=get_args(ServingModeRequest),
        help="how the student is served to answer the held-out prompts: auto (default: on demand where AWS offers "
        "it, else Provisioned Throughput), on-demand or provisioned",
    )
    command.add_argument(
        "--keep-deployment",
        action="store_true",
        help="keep the on-demand deployment after a successful run (it costs nothing idle) and report its ARN",
    )
    command.add_argument(
        "--skip-log-scan", action="store_true", help="with --logs: check the filter only, not the logs themselves"
    )
    command.add_argument("--dry-run", action="store_true", help="check and print the input; upload and start nothing")
    command.add_argument(
        "--json", action="store_true", help="print one JSON object (the run, or the plan) on stdout; checks on stderr"
    )
    command.set_defaults(run=_operator("start"))


def _add_status(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "status",
        parents=parents,
        help="a run's state, job and Provisioned Throughput status, elapsed time",
        description="Show a run's execution state, distillation job status, Provisioned Throughput status and "
        "elapsed time. Exit 1 when the execution failed, timed out or was aborted.",
    )
    command.add_argument("execution", nargs="?", metavar="EXECUTION", help="name or ARN (default: the newest)")
    command.add_argument("--watch", action="store_true", help="refresh until the execution ends")
    command.add_argument(
        "--interval", type=float, default=10.0, metavar="SECONDS", help="--watch refresh interval (default: 10)"
    )
    command.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    command.set_defaults(run=_operator("status"))


def _add_list(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "list",
        parents=parents,
        help="recent runs with their outcome",
        description="List the pipeline's recent executions, newest first, with their outcome.",
    )
    command.add_argument("--max", type=int, default=10, metavar="N", help="how many (default: 10)")
    command.add_argument(
        "--status",
        choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"],
        help="only executions in this status",
    )
    command.add_argument("--json", action="store_true", help="print one JSON array instead of a table")
    command.set_defaults(run=_operator("list_runs"))


def _add_report(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "report",
        parents=parents,
        help="a run's report: metrics, loss curve PNG, validation results, scorecard and its chart",
        description="Gather a run's job, training metrics, validation results, preflight report and scorecard; "
        "write report.json, training-loss.png and scorecard.png (teacher vs student per judge metric, the decision "
        "in its title) into --out and print a summary. Exit 1 when the execution failed.",
    )
    command.add_argument("execution", metavar="EXECUTION", help="name or ARN")
    command.add_argument("--out", metavar="DIR", help="where to write (default: ./distill-report-<execution name>/)")
    command.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    command.set_defaults(run=_operator("report"))


def _add_generate_logs(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "generate-logs",
        parents=parents,
        help="send prompts to the teacher with requestMetadata so invocation logs accumulate",
        description="Send every prompt through Converse on the teacher with --metadata as requestMetadata, at "
        "most --concurrency at a time, backing off on throttling. Each prompt sent is recorded in a progress "
        "file: a rerun skips them, so an interrupted run resumes without sending any prompt twice.",
    )
    command.add_argument(
        "--prompts",
        required=True,
        metavar="FILE",
        help="one prompt per line (text), or bedrock-conversation-2024 JSONL (.jsonl/.json, or --format jsonl)",
    )
    command.add_argument("--teacher", required=True, metavar="MODEL_ID", help="the teacher model id to call")
    command.add_argument(
        "--metadata",
        required=True,
        action="append",
        metavar="KEY=VALUE",
        help="requestMetadata for every call, repeatable (what `start --filter` later selects by)",
    )
    command.add_argument("--concurrency", type=int, default=4, metavar="N", help="calls in flight at most (default: 4)")
    command.add_argument(
        "--format", choices=["auto", "jsonl", "text"], default="auto", help="prompt file format (default: by suffix)"
    )
    command.add_argument("--system", metavar="TEXT", help="a system prompt for prompts that have none")
    command.add_argument(
        "--max-tokens", type=int, default=1000, metavar="N", help="inferenceConfig.maxTokens (default: 1000)"
    )
    command.add_argument("--temperature", type=float, metavar="T", help="inferenceConfig.temperature")
    command.add_argument(
        "--max-attempts",
        type=int,
        default=8,
        metavar="N",
        help="throttled or failed calls of one prompt before the run stops (default: 8)",
    )
    command.add_argument("--progress-file", metavar="PATH", help="default: <prompts file>.progress")
    command.add_argument("--no-progress", action="store_true", help="no progress bar")
    command.add_argument("--json", action="store_true", help="print one JSON object with the result instead of text")
    command.set_defaults(run=_operator("generate"))


def _add_doctor(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "doctor",
        parents=parents,
        help="check an account and Region (and a deployed stack) before spending money",
        description="Check, with free read-only calls, that a run could succeed here: the Region offers the pair, "
        "the models are accessible, the Provisioned Throughput quota allows a run, what deploying does to "
        "invocation logging, and (with a deployed stack) that its roles may make the pipeline's calls. One line "
        "per check with what to do; exit 0 only when nothing fails.",
    )
    command.add_argument("--teacher", metavar="MODEL_ID", help="the teacher (default: the stack's, else the Region's)")
    command.add_argument("--student", metavar="MODEL_ID", help="the student (default: the stack's, else the Region's)")
    command.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    command.set_defaults(run=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> int:
    from distill_cli import commands, doctor  # noqa: PLC0415 - see the module docstring

    return commands.run(doctor.doctor, args)


# --- Output helpers ------------------------------------------------------------------------------------


def _print_problem(problem: Problem) -> None:
    print(problem.render())


def _print_verdict(verdict: str, reasons: list[str]) -> None:
    print(f"verdict: {verdict}" + (f" ({'; '.join(reasons)})" if reasons else ""))


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
