"""`distill start`: check the data here first, then upload what is local and start an execution.

Every check is the pipeline's own preflight code, so a run the CLI starts does not fail on data the
CLI could have rejected; the execution input is built with ExecutionInput, so the pipeline cannot
reject its shape either. Nothing is uploaded and nothing is started while any check fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any, Final

from pydantic import ValidationError

from bedrock_distill.catalog import pair_problem
from bedrock_distill.operator.errors import OperatorError, aws_errors
from bedrock_distill.operator.executions import EXECUTION_NAME, ExecutionsGateway
from bedrock_distill.operator.sources import read_json_argument
from bedrock_distill.operator.stack import Stack
from bedrock_distill.preflight import Problem, Severity, parse_filter, scan_logs, validate_dataset
from bedrock_distill.preflight.problems import WHOLE_FILE
from bedrock_distill.s3 import S3Gateway, S3Location, is_s3_uri
from bedrock_distill.workflow.hold_out import hold_out_problem
from bedrock_distill.workflow.run import ExecutionInput, InvocationLogsSource, TrainingData

CONSOLE_URL: Final = "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"
DEFAULT_LOG_SOURCE: Final = ""  # `--logs` without a URI: the stack's InvocationLogSource


@dataclass(frozen=True)
class StartOptions:
    prompts: str | None = None
    logs: str | None = None
    filter: str | None = None
    teacher: str | None = None
    student: str | None = None
    validation_prompts: str | None = None
    name: str | None = None
    use_prompt_response: bool = False
    model_units: int | None = None
    validation_sample_size: int | None = None
    scan_logs: bool = True


@dataclass(frozen=True)
class Upload:
    path: str
    destination: S3Location


@dataclass(frozen=True)
class StartPlan:
    name: str
    execution_input: ExecutionInput
    uploads: list[Upload]

    def input_document(self) -> dict[str, Any]:
        return self.execution_input.model_dump(by_alias=True, exclude_none=True, mode="json")


@dataclass(frozen=True)
class Started:
    arn: str
    name: str
    console_url: str
    execution_input: dict[str, Any]
    uploads: list[Upload]


@dataclass
class Findings:
    """Problems and notes as the checks find them; each problem is one printable line."""

    on_problem: Callable[[str], None]
    on_note: Callable[[str], None]
    problems: int = 0
    notes: list[str] = field(default_factory=list)

    def problem(self, line: str) -> None:
        self.problems += 1
        self.on_problem(line)

    def note(self, line: str) -> None:
        self.notes.append(line)
        self.on_note(line)


def console_url(region: str, arn: str) -> str:
    return CONSOLE_URL.format(region=region, arn=arn)


def default_execution_name(now: datetime) -> str:
    return f"distill-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_options(options: StartOptions) -> None:
    """Argument combinations no check can fix: raised as usage errors before any AWS call."""
    if (options.prompts is None) == (options.logs is None):
        raise OperatorError("give exactly one of --prompts or --logs")
    if options.logs is not None and options.filter is None:
        raise OperatorError(
            "--logs needs --filter: without requestMetadataFilters the job would train on every logged "
            "invocation in the account"
        )
    if options.logs is None and (options.filter is not None or options.use_prompt_response):
        raise OperatorError("--filter and --use-prompt-response apply to --logs only")
    if options.logs is not None and options.validation_prompts is None:
        raise OperatorError(
            "--logs needs --validation-prompts: held-out prompts (bedrock-conversation-2024 JSONL, "
            "assistant turns as reference answers) to validate the distilled model on"
        )
    if options.name is not None and not EXECUTION_NAME.match(options.name):
        raise OperatorError(f"--name {options.name!r}: use 1-80 letters, digits, '-' or '_'")


def plan_start(options: StartOptions, stack: Stack, s3: S3Gateway, now: datetime, findings: Findings) -> StartPlan:
    """Checks everything; the plan is safe to carry out only when ``findings.problems`` is 0."""
    check_options(options)
    name = options.name or default_execution_name(now)
    teacher = options.teacher or stack.teacher_model_id
    student = options.student or stack.student_model_id
    # The deployment's own allow-list is Preflight's to enforce; here, what Bedrock offers in the stack's Region.
    if problem := pair_problem(teacher, student, stack.region):
        findings.problem(f"--teacher/--student: {problem}")
    uploads: list[Upload] = []

    training: TrainingData
    if options.prompts is not None:
        valid = _check_training_prompts(options.prompts, student, s3, findings)
        if options.validation_prompts is None:
            # The pipeline will hold validation prompts out of these: the rest must still be enough to train on.
            size = options.validation_sample_size or ExecutionInput.model_fields["validation_sample_size"].default
            if shortfall := hold_out_problem(options.prompts, valid, size):
                findings.problem(shortfall.render())
        prompts_uri = _staged(options.prompts, stack, name, "", uploads)
        training = TrainingData(prompts=prompts_uri)
    else:
        assert options.logs is not None
        assert options.filter is not None
        source = options.logs or stack.invocation_log_source
        metadata_filter = _check_filter(options.filter, s3, findings)
        if options.scan_logs and metadata_filter is not None:
            _scan_logs(
                source,
                metadata_filter=metadata_filter,
                teacher=teacher,
                use_prompt_response=options.use_prompt_response,
                s3=s3,
                findings=findings,
            )
        training = TrainingData(
            invocation_logs=InvocationLogsSource(
                source=source,
                request_metadata_filters=metadata_filter,
                use_prompt_response=options.use_prompt_response,
            )
        )

    validation_uri = None
    if options.validation_prompts is not None:
        _check_validation_prompts(options.validation_prompts, student, s3, findings)
        validation_uri = _staged(options.validation_prompts, stack, name, "validation/", uploads)

    extras: dict[str, Any] = {}
    if options.validation_sample_size is not None:
        extras["validation_sample_size"] = options.validation_sample_size
    try:
        execution_input = ExecutionInput(
            training_data=training,
            teacher_model_id=options.teacher,
            student_model_id=options.student,
            validation_prompts=validation_uri,
            provisioned_model_units=options.model_units,
            **extras,
        )
    except ValidationError as error:
        for detail in error.errors():
            where = ".".join(str(part) for part in detail["loc"]) or "input"
            findings.problem(f"execution input: {where}: {detail['msg']}")
        execution_input = ExecutionInput.model_construct(training_data=training)
    return StartPlan(name=name, execution_input=execution_input, uploads=uploads)


def carry_out(plan: StartPlan, stack: Stack, s3: S3Gateway, executions: ExecutionsGateway) -> Started:
    """Uploads the local files, then starts the execution."""
    for upload in plan.uploads:
        with aws_errors(f"upload {upload.path} to {upload.destination.uri}"):
            s3.client.upload_file(upload.path, upload.destination.bucket, upload.destination.key)
    document = plan.input_document()
    arn = executions.start(stack.state_machine_arn, plan.name, document)
    return Started(
        arn=arn,
        name=plan.name,
        console_url=console_url(stack.region, arn),
        execution_input=document,
        uploads=plan.uploads,
    )


def _staged(location: str, stack: Stack, name: str, subfolder: str, uploads: list[Upload]) -> str:
    """The S3 URI the run reads: the location itself, or where a local file will be uploaded."""
    if is_s3_uri(location):
        return location
    destination = S3Location.parse(f"{stack.input_location}{name}/{subfolder}{PurePath(location).name}")
    uploads.append(Upload(path=location, destination=destination))
    return destination.uri


def _check_training_prompts(location: str, student: str, s3: S3Gateway, findings: Findings) -> int:
    """Reports the prompts' problems; returns how many records are valid."""
    report = validate_dataset(location, student, s3=s3, on_problem=_reporter(findings))
    findings.note(f"{location}: {report.records:,} records, {report.valid:,} valid, {report.warnings:,} warnings")
    return report.valid


def _check_validation_prompts(location: str, student: str, s3: S3Gateway, findings: Findings) -> None:
    # Held-out prompts need no minimum count, as in the pipeline's preflight; every record must be valid.
    report = validate_dataset(location, student, s3=s3, on_problem=_reporter(findings, whole_file=False))
    findings.note(f"{location}: {report.valid:,} valid validation prompts")


def _reporter(findings: Findings, *, whole_file: bool = True) -> Callable[[Problem], None]:
    """Prints every problem; only errors stop the run (warnings are Bedrock-acceptable)."""

    def report(problem: Problem) -> None:
        if problem.line == WHOLE_FILE and not whole_file:
            return
        if problem.severity is Severity.ERROR:
            findings.problem(problem.render())
        else:
            findings.on_problem(problem.render())

    return report


def _check_filter(value: str, s3: S3Gateway, findings: Findings) -> dict[str, Any] | None:
    label, text = read_json_argument(value, s3)
    document, violations = parse_filter(text)
    for violation in violations:
        findings.problem(f"--filter {label}: {violation.render()}")
    if violations or not isinstance(document, dict):
        return None
    return dict(document)


def _scan_logs(
    source: str,
    *,
    metadata_filter: dict[str, Any],
    teacher: str,
    use_prompt_response: bool,
    s3: S3Gateway,
    findings: Findings,
) -> None:
    report = scan_logs(source, metadata_filter, teacher, use_prompt_response, s3=s3, on_problem=_reporter(findings))
    used = "prompt-response pairs" if use_prompt_response else "prompts"
    findings.note(
        f"{source}: {report.records:,} logged invocations, {report.records_matching_filter:,} match the filter; "
        f"the job would use {report.used:,} {used}"
    )
