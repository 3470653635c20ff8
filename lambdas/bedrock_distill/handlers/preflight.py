"""State `Preflight`: validate the execution input and the data; decide the run's names and tokens."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import ValidationError

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.handlers.common import logger, metrics, settings, tracer
from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.preflight import run_preflight
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, plan_run

_s3 = S3Gateway()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = ExecutionContext.model_validate(event["execution"])
    try:
        execution_input = ExecutionInput.model_validate(event.get("input"))
        if execution_input.dataset_settings is not None:
            execution_input = _with_dataset_settings(execution_input, execution_input.dataset_settings)
        run = plan_run(execution_input, execution, settings())
    except ValidationError as error:
        raise InvalidExecutionInput(_describe(error)) from None
    except ValueError as error:
        raise InvalidExecutionInput(str(error)) from None
    summary = run_preflight(run, _s3)
    metrics.add_metric(name="TrainingRecords", unit=MetricUnit.Count, value=summary.training_records)
    logger.info(
        "preflight passed",
        job_name=run.job_name,
        training_records=summary.training_records,
        validation_prompts_source=run.validation_prompts_source,
    )
    planned = run.model_copy(update={"preflight_report_uri": summary.report_uri, "held_out": summary.held_out})
    return planned.model_dump(by_alias=True, mode="json")


def _with_dataset_settings(execution_input: ExecutionInput, uri: str) -> ExecutionInput:
    try:
        text = _s3.read_text(S3Location.parse(uri))
    except (ClientError, UnicodeDecodeError) as error:
        raise InvalidExecutionInput(f"{uri}: cannot read the dataset settings: {error}") from None
    return load_dataset_settings(text, uri, settings()).apply_to(execution_input)


def _describe(error: ValidationError) -> str:
    """Each problem as `input.path.to.field: reason`, the way the README documents the input."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"])
        lines.append(f"input.{path}: {problem['msg']}" if path else f"input: {problem['msg']}")
    return "\n".join(lines)
