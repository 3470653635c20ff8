"""State `Preflight` as one step: the execution input (and its dataset settings file) planned into a run,
then the run's data checked before anything exists.

Every problem with the input is InvalidExecutionInput, each line `input.path.to.field: reason` the way the
README documents the input; every problem with the data is PreflightFailed (workflow/preflight.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput, RequestRejected
from bedrock_distill.workflow.preflight import run_preflight
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, Run, plan_run
from bedrock_distill.workflow.settings import PipelineSettings


class CheckedRun(BaseModel):
    """The run as planned, with what Preflight found: its report and, without given prompts, the held-out split."""

    run: Run
    training_records: int


def plan_and_check(
    execution_input: object, execution: ExecutionContext, settings: PipelineSettings, s3: S3Gateway
) -> CheckedRun:
    run = plan(execution_input, execution, settings, s3)
    summary = run_preflight(run, s3)
    planned = run.model_copy(update={"preflight_report_uri": summary.report_uri, "held_out": summary.held_out})
    return CheckedRun(run=planned, training_records=summary.training_records)


def plan(execution_input: object, execution: ExecutionContext, settings: PipelineSettings, s3: S3Gateway) -> Run:
    """The run the execution input asks for, its dataset settings file applied; InvalidExecutionInput if it
    cannot be planned."""
    try:
        requested = ExecutionInput.model_validate(execution_input)
        if requested.dataset_settings is not None:
            requested = _with_dataset_settings(requested, requested.dataset_settings, settings, s3)
        return plan_run(requested, execution, settings)
    except ValidationError as error:
        raise InvalidExecutionInput(describe(error)) from None
    except ValueError as error:
        raise InvalidExecutionInput(str(error)) from None


def _with_dataset_settings(
    execution_input: ExecutionInput, uri: str, settings: PipelineSettings, s3: S3Gateway
) -> ExecutionInput:
    try:
        text = s3.read_text(S3Location.parse(uri))
    # A file that is missing, forbidden or not text is the input's fault; a transient error is retried as itself.
    except (RequestRejected, UnicodeDecodeError) as error:
        raise InvalidExecutionInput(f"{uri}: cannot read the dataset settings: {error}") from None
    return load_dataset_settings(text, uri, settings).apply_to(execution_input)


def describe(error: ValidationError) -> str:
    """Each problem as `input.path.to.field: reason`, the way the README documents the input."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"])
        lines.append(f"input.{path}: {problem['msg']}" if path else f"input: {problem['msg']}")
    return "\n".join(lines)
