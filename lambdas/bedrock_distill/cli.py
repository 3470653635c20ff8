"""The ``distill`` command line.

Each command is one small ``_add_<command>`` function that declares its arguments and the function
that runs it; ``main`` only parses and dispatches. Exit codes everywhere: 0 valid, 1 invalid,
2 usage or I/O error (argparse exits 2 on its own usage errors).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, Final

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
from bedrock_distill.preflight.sources import read_chunks

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE_OR_IO: Final = 2

Subcommands = Any  # argparse's _SubParsersAction is private
Runner = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    runner: Runner = args.run
    try:
        return runner(args)
    except SourceError as error:
        print(f"distill: {error}", file=sys.stderr)
        return EXIT_USAGE_OR_IO


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Amazon Bedrock Model Distillation as code. Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_validate(commands)
    _add_filter(commands)
    _add_logs(commands)
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
    report = validate_dataset(args.path, args.student, on_problem=None if args.json else _print_problem)
    if args.json:
        _print_json(report.to_dict())
    else:
        _print_dataset_summary(report)
    return EXIT_VALID if report.is_valid else EXIT_INVALID


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
            print(f"{label}: {violation.render()}")
        _print_verdict("invalid" if violations else "valid", [f"{len(violations)} violations"] if violations else [])
    return EXIT_INVALID if violations else EXIT_VALID


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
                print(f"distill: --filter {label}: {violation.render()}", file=sys.stderr)
            return EXIT_USAGE_OR_IO
    report = scan_logs(
        args.source,
        metadata_filter,
        args.teacher,
        args.use_prompt_response,
        on_problem=None if args.json else _print_problem,
        workers=args.workers,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        _print_scan_summary(report)
    return EXIT_VALID if report.is_valid else EXIT_INVALID


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


# --- Output helpers ------------------------------------------------------------------------------------


def _print_problem(problem: Problem) -> None:
    print(problem.render())


def _print_verdict(verdict: str, reasons: list[str]) -> None:
    print(f"verdict: {verdict}" + (f" ({'; '.join(reasons)})" if reasons else ""))


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
