"""`distill start`: check the data here first, then upload what is local and start an execution.

Every check is the pipeline's own preflight code, so a run the CLI starts does not fail on data the
CLI could have rejected; the execution input is built with ExecutionInput, so the pipeline cannot
reject its shape either. Nothing is uploaded and nothing is started while any check fails.

Everything that can be checked here is checked before AWS is asked anything: the arguments, that local
files exist, the input's numbers, then the local data (when the teacher and student are given), and only
then the stack, S3 objects and logs. A dry run given both models never looks the stack up, so it runs with
no AWS at all: uploads are then shown relative to the stack's InputLocation.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Annotated, Any, Final

from pydantic import TypeAdapter, ValidationError

from bedrock_distill.catalog import pair_problem
from bedrock_distill.gateways.s3 import S3Gateway, S3Location, is_s3_uri
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.preflight import Problem, Severity, parse_filter, scan_logs, validate_dataset
from bedrock_distill.preflight.problems import WHOLE_FILE
from bedrock_distill.workflow.hold_out import hold_out_problem
from bedrock_distill.workflow.run import ExecutionInput, InvocationLogsSource, ServingModeRequest, TrainingData
from distill_cli.errors import OperatorError
from distill_cli.executions import EXECUTION_NAME
from distill_cli.sources import read_json_argument
from distill_cli.stack import Stack

CONSOLE_URL: Final = "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"
DEFAULT_LOG_SOURCE: Final = ""  # `--logs` without a URI: the stack's InvocationLogSource
# A dry run that does not look the stack up plans its uploads under this stand-in for the stack's
# InputLocation (a valid S3 URI, so ExecutionInput checks the rest), printed as INPUT_LOCATION_NAME.
STAND_IN_INPUT_LOCATION: Final = "s3://stack-input-location/"
INPUT_LOCATION_NAME: Final = "<InputLocation>"
DEFAULT_SAMPLE_SIZE: Final[int] = ExecutionInput.model_fields["validation_sample_size"].default
# Numbers the execution input bounds, checked here against ExecutionInput's own fields before anything else.
BOUNDED_OPTIONS: Final = {"model_units": "provisioned_model_units", "validation_sample_size": "validation_sample_size"}


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
    serving_mode: ServingModeRequest | None = None
    keep_deployment: bool = False
    scan_logs: bool = True
    dry_run: bool = False

    @property
    def needs_stack(self) -> bool:
        """A dry run given both models needs nothing from the stack but `--logs`' default source."""
        return not (self.dry_run and self.teacher and self.student)


@dataclass(frozen=True)
class StartAws:
    """What `start` asks AWS for, each only when a check or the plan needs it."""

    stack: Callable[[], Stack]
    s3: Callable[[], S3Gateway]
    # The Region as configured (options, environment, profile): no network call; None when there is none.
    region: Callable[[], str | None]


@dataclass(frozen=True)
class Upload:
    path: str
    destination: S3Location


@dataclass(frozen=True)
class StartPlan:
    name: str
    execution_input: ExecutionInput
    uploads: list[Upload]
    # False for a dry run that did not look the stack up: uploads go under the stand-in InputLocation.
    input_location_known: bool = True

    def input_document(self) -> dict[str, Any]:
        document: dict[str, Any] = self.execution_input.model_dump(by_alias=True, exclude_none=True, mode="json")
        return document if self.input_location_known else _named_input_location(document)

    def destination(self, upload: Upload) -> str:
        uri = upload.destination.uri
        return uri if self.input_location_known else uri.replace(STAND_IN_INPUT_LOCATION, INPUT_LOCATION_NAME, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uploads": [{"path": upload.path, "destination": self.destination(upload)} for upload in self.uploads],
            "input": self.input_document(),
        }


@dataclass(frozen=True)
class Started:
    arn: str
    name: str
    console_url: str
    execution_input: dict[str, Any]
    uploads: list[Upload]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "executionArn": self.arn,
            "consoleUrl": self.console_url,
            "uploads": [{"path": upload.path, "destination": upload.destination.uri} for upload in self.uploads],
            "input": self.execution_input,
        }


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
    for option, field_name in BOUNDED_OPTIONS.items():
        value = getattr(options, option)
        if value is not None and (reason := _field_problem(field_name, value)):
            raise OperatorError(f"--{option.replace('_', '-')} {value}: {reason}")
    for flag, location in (
        ("--prompts", options.prompts),
        ("--validation-prompts", options.validation_prompts),
        ("--filter", options.filter),
    ):
        if location and not is_s3_uri(location) and not _inline_json(location) and not Path(location).is_file():
            raise OperatorError(f"{flag} {location}: no such file")


def _field_problem(field_name: str, value: object) -> str | None:
    info = ExecutionInput.model_fields[field_name]
    try:
        bounded: Any = Annotated[info.annotation, *info.metadata]
        TypeAdapter(bounded).validate_python(value)
    except ValidationError as error:
        return str(error.errors()[0]["msg"])
    return None


def _inline_json(value: str) -> bool:
    return value.lstrip().startswith(("{", "["))


def plan_start(options: StartOptions, aws: StartAws, now: datetime, findings: Findings) -> StartPlan:
    """Checks everything, local first; the plan is safe to carry out only when ``findings.problems`` is 0."""
    check_options(options)
    name = options.name or default_execution_name(now)
    teacher = options.teacher or aws.stack().teacher_model_id
    student = options.student or aws.stack().student_model_id
    # The deployment's own allow-list is Preflight's to enforce; here, what Bedrock offers in the Region
    # (the stack's: its clients are this session's), or in any Region when none is configured.
    if problem := pair_problem(teacher, student, aws.region()):
        findings.problem(f"--teacher/--student: {problem}")

    metadata_filter = _check_data(options, student, aws, findings)
    if findings.problems:
        # The data's problems are the answer: asking AWS now could only add an unrelated error.
        unchecked = TrainingData.model_construct(prompts=options.prompts)
        return StartPlan(name=name, execution_input=ExecutionInput.model_construct(training_data=unchecked), uploads=[])

    input_location = aws.stack().input_location if options.needs_stack else STAND_IN_INPUT_LOCATION
    uploads: list[Upload] = []
    training: TrainingData
    if options.prompts is not None:
        training = TrainingData(prompts=_staged(options.prompts, input_location, name, "", uploads))
    else:
        assert options.logs is not None
        source = options.logs or aws.stack().invocation_log_source
        if options.scan_logs and metadata_filter is not None:
            _scan_logs(
                source,
                metadata_filter=metadata_filter,
                teacher=teacher,
                use_prompt_response=options.use_prompt_response,
                s3=aws.s3(),
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
        validation_uri = _staged(options.validation_prompts, input_location, name, "validation/", uploads)

    extras: dict[str, Any] = {}
    if options.validation_sample_size is not None:
        extras["validation_sample_size"] = options.validation_sample_size
    if options.serving_mode is not None:
        extras["serving_mode"] = options.serving_mode
    try:
        execution_input = ExecutionInput(
            training_data=training,
            teacher_model_id=options.teacher,
            student_model_id=options.student,
            validation_prompts=validation_uri,
            provisioned_model_units=options.model_units,
            keep_deployment=options.keep_deployment,
            **extras,
        )
    except ValidationError as error:
        for detail in error.errors():
            where = ".".join(str(part) for part in detail["loc"]) or "input"
            findings.problem(f"execution input: {where}: {detail['msg']}")
        execution_input = ExecutionInput.model_construct(training_data=training)
    return StartPlan(
        name=name, execution_input=execution_input, uploads=uploads, input_location_known=options.needs_stack
    )


def _check_data(options: StartOptions, student: str, aws: StartAws, findings: Findings) -> dict[str, Any] | None:
    """Checks every data argument, local ones first, and S3 ones only while the local ones have no problem
    (an AWS error must not hide them); returns the --filter document when it is valid."""
    checks: list[tuple[str, Callable[[], None]]] = []
    metadata_filter: list[dict[str, Any] | None] = [None]
    if options.prompts is not None:
        prompts = options.prompts
        # Without validation prompts the pipeline holds some out of these: the rest must still be enough.
        hold_out = None if options.validation_prompts else options.validation_sample_size or DEFAULT_SAMPLE_SIZE
        checks.append((prompts, lambda: _check_training_prompts(prompts, student, hold_out, aws, findings)))
    if options.filter is not None:
        selection = options.filter

        def check_filter() -> None:
            metadata_filter[0] = _check_filter(selection, aws, findings)

        checks.append((selection, check_filter))
    if options.validation_prompts is not None:
        held_out = options.validation_prompts
        checks.append((held_out, lambda: _check_validation_prompts(held_out, student, aws, findings)))
    for location, check in sorted(checks, key=lambda item: is_s3_uri(item[0])):
        if is_s3_uri(location) and findings.problems:
            break
        check()
    return metadata_filter[0]


def carry_out(plan: StartPlan, stack: Stack, s3: S3Gateway, executions: StepFunctionsGateway) -> Started:
    """Uploads the local files, then starts the execution."""
    for upload in plan.uploads:
        s3.upload_file(str(upload.path), upload.destination)
    document = plan.input_document()
    arn = executions.start_execution(stack.state_machine_arn, plan.name, document)
    if arn is None:
        raise OperatorError(f"an execution named {plan.name} already exists: pass another --name")
    return Started(
        arn=arn,
        name=plan.name,
        console_url=console_url(stack.region, arn),
        execution_input=document,
        uploads=plan.uploads,
    )


def _named_input_location(document: Any) -> Any:
    """The document with the stand-in InputLocation named as what it stands for."""
    if isinstance(document, dict):
        return {key: _named_input_location(value) for key, value in document.items()}
    if isinstance(document, str):
        return document.replace(STAND_IN_INPUT_LOCATION, INPUT_LOCATION_NAME, 1)
    return document


def _staged(location: str, input_location: str, name: str, subfolder: str, uploads: list[Upload]) -> str:
    """The S3 URI the run reads: the location itself, or where a local file will be uploaded."""
    if is_s3_uri(location):
        return location
    destination = S3Location.parse(f"{input_location}{name}/{subfolder}{PurePath(location).name}")
    uploads.append(Upload(path=location, destination=destination))
    return destination.uri


def _s3_for(location: str, aws: StartAws) -> S3Gateway | None:
    """The S3 gateway for an s3:// location; none for local data, so checking it needs no AWS."""
    return aws.s3() if is_s3_uri(location) else None


def _check_training_prompts(
    location: str, student: str, hold_out: int | None, aws: StartAws, findings: Findings
) -> None:
    """Reports the prompts' problems, and too few left to train on once ``hold_out`` records are held out."""
    report = validate_dataset(location, student, s3=_s3_for(location, aws), on_problem=_reporter(findings))
    findings.note(f"{location}: {report.records:,} records, {report.valid:,} valid, {report.warnings:,} warnings")
    if hold_out is not None and (shortfall := hold_out_problem(location, report.valid, hold_out)):
        findings.problem(shortfall.render())


def _check_validation_prompts(location: str, student: str, aws: StartAws, findings: Findings) -> None:
    # Held-out prompts need no minimum count, as in the pipeline's preflight; every record must be valid.
    report = validate_dataset(
        location, student, s3=_s3_for(location, aws), on_problem=_reporter(findings, whole_file=False)
    )
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


def _check_filter(value: str, aws: StartAws, findings: Findings) -> dict[str, Any] | None:
    label, text = read_json_argument(value, _s3_for(value, aws))
    document, violations = parse_filter(text)
    for violation in violations:
        findings.problem(f"--filter {violation.located(label)}")
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
