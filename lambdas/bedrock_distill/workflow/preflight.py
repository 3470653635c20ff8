"""The pipeline's first state: the same checks as `distill validate` / `distill logs scan`, before any job."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway, state_machine_of
from bedrock_distill.preflight import Problem, Severity, SourceError, check_filter, scan_logs, validate_dataset
from bedrock_distill.preflight.problems import REPEATS_SHOWN, WHOLE_FILE
from bedrock_distill.workflow.errors import InvalidExecutionInput, PreflightFailed, TransientError
from bedrock_distill.workflow.hold_out import SELECTION, hold_out_problem, split_dataset
from bedrock_distill.workflow.run import ExecutionContext, HeldOutSplit, Run, report_prefix_uri
from bedrock_distill.workflow.settings import PipelineSettings

# A Step Functions error cause holds at most 32,768 characters: name the first problems, link the rest.
MAX_PROBLEMS_IN_ERROR = 20
PREFLIGHT_REPORT = "preflight.json"


def refuse_past_concurrency(
    execution_arn: str, settings: PipelineSettings, stepfunctions: StepFunctionsGateway
) -> None:
    """PreflightFailed when maxConcurrentRuns other executions of this state machine are already RUNNING: a run
    past the limit fails (it does not wait), before it reads anything or creates anything in Bedrock. Executions
    still in their own Preflight count too, so runs started at the same moment may all be refused."""
    limit = settings.max_concurrent_runs
    if limit is None:
        return
    # From the execution's own ARN: the state machine's ARN in Preflight's environment would be a cycle.
    running = stepfunctions.recent(state_machine_of(execution_arn), limit + 1, status="RUNNING")
    others = [execution.name for execution in running if execution.arn != execution_arn]
    if len(others) >= limit:
        raise PreflightFailed(
            f"this deployment runs at most maxConcurrentRuns = {limit} run(s) at once, and {len(others)} are running "
            f"({', '.join(sorted(others[:limit]))}): start this run again when one of them has ended"
        )


@contextmanager
def reported_when_rejected(execution: ExecutionContext, settings: PipelineSettings, s3: S3Gateway) -> Iterator[None]:
    """An input Preflight rejects (InvalidExecutionInput: the execution input or its settings file) leaves a
    preflight.json at the run's report location, as a rejected dataset does, before the error ends the run."""
    try:
        yield
    except InvalidExecutionInput as error:
        location = S3Location.parse(report_prefix_uri(execution.name, settings)).child(PREFLIGHT_REPORT)
        s3.put_json(location, {"problems": str(error).splitlines()})
        raise


class PreflightSummary(BaseModel):
    training_records: int
    report_uri: str
    held_out: HeldOutSplit | None = None


def run_preflight(run: Run, s3: S3Gateway) -> PreflightSummary:
    """Validate the training source (and validation prompts); raise PreflightFailed with the problems.

    Without given validation prompts, hold them out of the training prompts (workflow/hold_out.py) once
    the prompts are known valid, and report the split in preflight.json.
    """
    report_location = S3Location.parse(run.report_s3_uri).child(PREFLIGHT_REPORT)
    reports: dict[str, Any] = {}
    problems: list[str] = []
    # A problem repeated on many lines is listed REPEATS_SHOWN times, then summarized in one line that
    # stands for the rest: the count in the cause adds them back.
    summarized = 0
    held_out: HeldOutSplit | None = None
    try:
        if run.training_source_kind == "prompts":
            dataset = validate_dataset(run.training_source_uri, run.student_model_id, repeats_shown=REPEATS_SHOWN)
            reports["trainingData"] = dataset.to_dict()
            problems += _errors(dataset.problems) + dataset.verdict_reasons
            summarized += _summarized(dataset.problems)
            training_records = dataset.valid
            if run.validation_prompts_source == "held-out":
                held_out = _hold_out(run, dataset.valid, problems, s3)
                if held_out is not None:
                    training_records = held_out.training_records
                    reports["heldOut"] = {
                        **held_out.model_dump(by_alias=True),
                        "trainingUri": run.training_data_config["s3Uri"],
                        "heldOutUri": run.validation_prompts,
                        "selection": SELECTION,
                    }
        else:
            logs_config = run.training_data_config["invocationLogsConfig"]
            metadata_filter = logs_config.get("requestMetadataFilters")
            violations = check_filter(metadata_filter) if metadata_filter is not None else []
            problems += [f"requestMetadataFilters: {violation.render()}" for violation in violations]
            if not violations:
                scan = scan_logs(
                    run.training_source_uri,
                    metadata_filter,
                    teacher_model_id=run.teacher_model_id,
                    use_prompt_response=logs_config["usePromptResponse"],
                    repeats_shown=REPEATS_SHOWN,
                )
                reports["invocationLogs"] = scan.to_dict()
                problems += _errors(scan.problems) + scan.verdict_reasons
                summarized += _summarized(scan.problems)
                training_records = scan.used
            else:
                training_records = 0
        if run.validation_prompts_source == "given":
            given = validate_dataset(run.validation_prompts, run.student_model_id, repeats_shown=REPEATS_SHOWN)
            reports["validationPrompts"] = given.to_dict()
            # Held-out prompts need no minimum count; every record in them must be valid.
            problems += _errors(p for p in given.problems if p.line != WHOLE_FILE)
            summarized += _summarized(given.problems)
    except SourceError as error:
        if (retry := _transient_cause(error)) is not None:
            raise retry from error
        problems.append(str(error))
        training_records = 0

    s3.put_json(report_location, {"problems": problems, **reports})
    if problems:
        shown = "\n".join(dict.fromkeys(problems[:MAX_PROBLEMS_IN_ERROR]))
        more = (
            f"\n... and {len(problems) - MAX_PROBLEMS_IN_ERROR} more" if len(problems) > MAX_PROBLEMS_IN_ERROR else ""
        )
        count = len(problems) + summarized
        raise PreflightFailed(f"{count} problem(s); full report: {report_location.uri}\n{shown}{more}")
    return PreflightSummary(training_records=training_records, report_uri=report_location.uri, held_out=held_out)


def _hold_out(run: Run, valid_records: int, problems: list[str], s3: S3Gateway) -> HeldOutSplit | None:
    """Split the training prompts when they are valid and enough; else add why not to the problems."""
    if problem := hold_out_problem(run.training_source_uri, valid_records, run.validation_sample_size):
        problems.append(problem.render())
        return None
    if problems:
        return None
    return split_dataset(
        run.training_source_uri,
        execution_arn=run.execution_arn,
        records=valid_records,
        held_out_size=run.validation_sample_size,
        training=S3Location.parse(run.training_data_config["s3Uri"]),
        held_out=S3Location.parse(run.validation_prompts),
        s3=s3,
    )


def _transient_cause(error: SourceError) -> TransientError | None:
    """A read S3 failed on its side (throttled, 5xx) is retried by the state machine, not reported as bad data."""
    cause = error.__cause__
    return cause if isinstance(cause, TransientError) else None


def _errors(problems: Iterable[Problem]) -> list[str]:
    return [problem.render() for problem in problems if problem.severity is Severity.ERROR]


def _summarized(problems: Iterable[Problem]) -> int:
    """The errors a report's summary lines stand for beyond the one line each of them takes."""
    return sum(problem.omitted - 1 for problem in problems if problem.omitted and problem.severity is Severity.ERROR)
