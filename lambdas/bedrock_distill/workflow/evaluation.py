"""The judge: one Bedrock model evaluation job per side over that side's own answers, and reading its results.

Amazon Bedrock judges precomputed answers ("bring your own inference responses") with an LLM as a judge:
- user guide "Create a prompt dataset for a model evaluation job that uses a model as judge"
  (model-evaluation-prompt-datasets-judge): one JSON line per prompt, `prompt`, optional `referenceResponse`,
  `modelResponses` holding exactly one `{response, modelIdentifier}`; one modelIdentifier per job, equal to the
  job's `precomputedInferenceSource.inferenceSourceIdentifier`; at most 1,000 prompts per job. So the teacher and
  the student are judged by two jobs over the same prompts.
- user guide "Understand how the results of your model evaluation job are saved in Amazon S3"
  (model-evaluation-report-s3): `<output>/<job-name>/<job-uuid>/models/<model-id>/taskTypes/<task-type>/datasets/
  <dataset>/<file-uuid>_output.jsonl`, written when the job is Completed; each line `automatedEvaluationResult
  .scores[{metricName, result}]`, `inputRecord` (the dataset line) and `modelResponses`. The page is not exact
  about the file names, so the whole `<output>/<job-name>/` prefix is listed and every `*_output.jsonl` read.
- botocore `bedrock` model: CreateEvaluationJobRequest; GetEvaluationJob/StopEvaluationJob take the job ARN only
  (EvaluationJobIdentifier); EvaluationJobStatus InProgress|Completed|Failed|Stopping|Stopped|Deleting.
Evaluation jobs send no EventBridge event (user guide, monitoring-eventbridge-how-it-works): the state machine
polls.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.errors import (
    BedrockRequestRejected,
    EvaluationJobFailed,
    EvaluationJobStopped,
    EvaluationResultsUnreadable,
    EvaluationTimedOut,
)
from bedrock_distill.workflow.responses import ResponseLine, read_response_lines
from bedrock_distill.workflow.run import Run, Side
from bedrock_distill.workflow.settings import PipelineSettings
from bedrock_distill.workflow.state import StateModel

SIDES: Final[tuple[Side, ...]] = get_args(Side)
# User guide, model-evaluation-prompt-datasets-judge: "at most 1000 prompts" in a judge job's dataset.
MAX_PROMPTS_PER_JOB: Final = 1000
# Every AWS example of a judge job uses "General" (user guide, model-evaluation-built-in-metrics, both CLI
# examples; the aws-samples BYOI notebook says it must be General). botocore's EvaluationTaskType enum lacks it,
# but botocore does not enforce enums on the client, and its pattern `[A-Za-z0-9]+` accepts it.
JUDGE_TASK_TYPE: Final = "General"
APPLICATION_TYPE: Final = "ModelEvaluation"
RESULT_FILE_SUFFIX: Final = "_output.jsonl"
# botocore EvaluationJobDescription: 1-200 characters.
_MAX_DESCRIPTION = 200
# botocore EvaluationPrecomputedInferenceSourceIdentifier: `[a-zA-Z0-9]([a-zA-Z0-9._-]){0,255}`. No ':' or '/',
# so a model ID or ARN cannot be the label itself.
_NOT_SOURCE_CHARACTERS = re.compile(r"[^a-zA-Z0-9._-]+")
_MAX_SOURCE_IDENTIFIER = 256
_RUNNING: Final = "InProgress"
_COMPLETED: Final = "Completed"
_STOPPED: Final = frozenset({"Stopping", "Stopped", "Deleting"})

OverallStatus = Literal["InProgress", "Completed"]


def source_identifier(side: Side, model_id: str) -> str:
    """The label of one side's answers: `inferenceSourceIdentifier` of its job and `modelIdentifier` of every line
    of its dataset (they must be equal), and the `models/<model-id>/` segment of its results."""
    readable = _NOT_SOURCE_CHARACTERS.sub("-", model_id).strip("-._")
    return f"{side}-{readable}"[:_MAX_SOURCE_IDENTIFIER] if readable else side


def side_model_id(run: Run, side: Side) -> str:
    """The model whose answers a side's job judges, as the run names it (the student by its base model: its
    deployment or PT is gone by the time the judge runs)."""
    return run.student_model_id if side == "student" else run.teacher_model_id


class EvaluationJob(StateModel):
    """One side's job, as CreateEvaluationJobs and EvaluationStatus report it."""

    job_arn: str
    job_name: str
    status: str = _RUNNING
    # The dataset's lines, and the prompts left out of it because that side gave no answer.
    prompts: int
    left_out: int


class Evaluation(StateModel):
    """`$.evaluation`: both jobs, and Completed once both are."""

    status: OverallStatus
    student: EvaluationJob
    teacher: EvaluationJob

    def job(self, side: Side) -> EvaluationJob:
        return self.student if side == "student" else self.teacher


class EvaluationDataset(BaseModel):
    uri: str
    prompts: int
    left_out: int


def dataset_lines(answers: list[ResponseLine], identifier: str) -> Iterator[dict[str, Any]]:
    """The BYOI dataset of one side: a line for each prompt it answered (the failed ones are left out)."""
    for answer in answers:
        if not answer.succeeded:
            continue
        line: dict[str, Any] = {"prompt": answer.prompt}
        if answer.reference is not None:
            line["referenceResponse"] = answer.reference
        line["modelResponses"] = [{"response": answer.response, "modelIdentifier": identifier}]
        yield line


def write_dataset(run: Run, side: Side, s3: S3Gateway) -> EvaluationDataset:
    """One side's evaluation dataset from its response lines, at the run's dataset URI for that side."""
    responses = S3Location.parse(run.responses_uri(side))
    answers = read_response_lines(responses, s3)
    lines = list(dataset_lines(answers, source_identifier(side, side_model_id(run, side))))
    if len(lines) > MAX_PROMPTS_PER_JOB:
        raise EvaluationJobFailed(
            f"not created: the {side}'s dataset would hold {len(lines):,} prompts; a judge job takes at most "
            f"{MAX_PROMPTS_PER_JOB:,} (user guide, model-evaluation-prompt-datasets-judge): ask for a smaller "
            "validationSampleSize"
        )
    if not lines:
        raise EvaluationJobFailed(
            f"not created: the {side} answered none of its {len(answers)} prompts ({responses.uri})"
        )
    location = S3Location.parse(run.evaluation_dataset_uri(side))
    s3.upload_chunks(location, (json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines))
    return EvaluationDataset(uri=location.uri, prompts=len(lines), left_out=len(answers) - len(lines))


def metric_names(settings: PipelineSettings) -> list[str]:
    """The judge's metrics: the deployment's, and the decision metric among them whatever they are."""
    return list(dict.fromkeys([*settings.judge_metrics, settings.decision_metric]))


def evaluation_job_request(
    run: Run, side: Side, dataset: EvaluationDataset, settings: PipelineSettings
) -> dict[str, Any]:
    """The CreateEvaluationJob request of one side: the same on every retry."""
    model_id = side_model_id(run, side)
    description = (
        f"bedrock-distill: the {side} ({model_id}) on {dataset.prompts} held-out prompts, judged by "
        f"{settings.judge_model_id}"
    )
    return {
        "jobName": run.evaluation_job_name(side),
        "jobDescription": description[:_MAX_DESCRIPTION],
        "roleArn": settings.evaluation_role_arn,
        "clientRequestToken": run.evaluation_client_request_token(side),
        "applicationType": APPLICATION_TYPE,
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": JUDGE_TASK_TYPE,
                        "dataset": {"name": f"{side}-answers", "datasetLocation": {"s3Uri": dataset.uri}},
                        "metricNames": metric_names(settings),
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": settings.judge_model_id}]},
            }
        },
        "inferenceConfig": {
            "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": source_identifier(side, model_id)}}]
        },
        "outputDataConfig": {"s3Uri": run.evaluation_output_uri},
        # Same {key, value} shape as every other Bedrock tag list (botocore TagList).
        "jobTags": run.tags(),
    }


def find_evaluation_job(job_name: str, bedrock: BedrockGateway) -> dict[str, Any] | None:
    """The job of exactly this name, if one exists: GetEvaluationJob takes an ARN only, so by listing."""
    for summary in bedrock.list_evaluation_jobs(nameContains=job_name):
        if summary.get("jobName") == job_name:
            return summary
    return None


def create_evaluation_job(request: dict[str, Any], bedrock: BedrockGateway) -> str:
    """The job's ARN. A retried invocation sends the same request with the same clientRequestToken, which Bedrock
    answers with the job it already made (botocore CreateEvaluationJobRequest.clientRequestToken: "If this token
    matches a previous request, Amazon Bedrock ignores the request, but does not return an error"); should the name
    be taken anyway (ConflictException), the job of exactly that name is ours: it is found, not duplicated."""
    try:
        return bedrock.create_evaluation_job(**request)
    except BedrockRequestRejected as rejected:
        if rejected.code == "ConflictException" and (existing := find_evaluation_job(request["jobName"], bedrock)):
            return str(existing["jobArn"])
        raise


def create_evaluation_jobs(run: Run, settings: PipelineSettings, bedrock: BedrockGateway, s3: S3Gateway) -> Evaluation:
    """Both sides' datasets, then both jobs. A retry rewrites the same datasets and gets back the jobs it made."""
    datasets = {side: write_dataset(run, side, s3) for side in SIDES}
    jobs = {
        side: EvaluationJob(
            job_arn=create_evaluation_job(evaluation_job_request(run, side, datasets[side], settings), bedrock),
            job_name=run.evaluation_job_name(side),
            prompts=datasets[side].prompts,
            left_out=datasets[side].left_out,
        )
        for side in SIDES
    }
    return Evaluation(status=_RUNNING, student=jobs["student"], teacher=jobs["teacher"])


def evaluation_status(
    evaluation: Evaluation, settings: PipelineSettings, bedrock: BedrockGateway, now: datetime
) -> Evaluation:
    """Both jobs' status: Completed when both are. A failed job raises EvaluationJobFailed with Bedrock's
    failureMessages; a stopped (or deleted) one EvaluationJobStopped; past max_evaluation_seconds since the first
    was created, the unfinished jobs are stopped (nothing would read them) and EvaluationTimedOut raised."""
    read = {side: bedrock.get_evaluation_job(evaluation.job(side).job_arn) for side in SIDES}
    for side, job in read.items():
        status = str(job["status"])
        arn = evaluation.job(side).job_arn
        if status == "Failed":
            messages = "; ".join(job.get("failureMessages") or []) or "no failure message from Bedrock"
            raise EvaluationJobFailed(f"the {side}'s evaluation job {arn} failed: {messages}")
        if status in _STOPPED:
            raise EvaluationJobStopped(f"the {side}'s evaluation job {arn} is {status}: it was stopped or deleted")
    unfinished = [side for side, job in read.items() if job["status"] != _COMPLETED]
    if unfinished:
        started = min(job["creationTime"] for job in read.values())
        waited = (now - started).total_seconds()
        if waited > settings.max_evaluation_seconds:
            for side in unfinished:
                bedrock.stop_evaluation_job(evaluation.job(side).job_arn)
            raise EvaluationTimedOut(
                f"the evaluation jobs ran {waited / 3600:.1f} h, past this deployment's limit of "
                f"{settings.max_evaluation_seconds / 3600:.1f} h (maxEvaluationHours); stopped the "
                f"{' and '.join(unfinished)}'s"
            )
    updated = {side: evaluation.job(side).model_copy(update={"status": str(read[side]["status"])}) for side in SIDES}
    return Evaluation(
        status=_RUNNING if unfinished else _COMPLETED, student=updated["student"], teacher=updated["teacher"]
    )


# Results ---------------------------------------------------------------------------------------------------


class JudgedLine(BaseModel):
    """One line of a job's results: the prompt and answer it judged and each metric's score (None: the judge
    found the metric not applicable, which the output gives as null)."""

    source: str
    line: int
    prompt: str
    reference: str | None
    response: str
    scores: dict[str, float | None]


class JobResults(BaseModel):
    files: list[str]
    lines: list[JudgedLine]


def results_prefix(run: Run, side: Side) -> S3Location:
    return S3Location.parse(run.evaluation_output_uri).child(f"{run.evaluation_job_name(side)}/")


def read_results(run: Run, side: Side, s3: S3Gateway) -> JobResults:
    """Every `*_output.jsonl` under the side's job folder, line by line. EvaluationResultsUnreadable, naming the
    file, line and field, for a missing folder or anything not in the documented shape."""
    prefix = results_prefix(run, side)
    files = sorted(key for key in s3.list_keys(prefix) if key.endswith(RESULT_FILE_SUFFIX))
    if not files:
        raise EvaluationResultsUnreadable(
            f"{prefix.uri}: no *{RESULT_FILE_SUFFIX} under the {side}'s evaluation job folder (user guide, "
            "model-evaluation-report-s3)"
        )
    lines: list[JudgedLine] = []
    for key in files:
        location = S3Location(prefix.bucket, key)
        for number, raw in enumerate(s3.iter_lines(location), start=1):
            if raw.strip():
                lines.append(_judged_line(location.uri, number, raw))
    return JobResults(files=[S3Location(prefix.bucket, key).uri for key in files], lines=lines)


def _judged_line(uri: str, number: int, raw: bytes) -> JudgedLine:
    def unreadable(field: str, reason: str) -> EvaluationResultsUnreadable:
        return EvaluationResultsUnreadable(f"{uri}:{number}: {field}: {reason}")

    try:
        record = json.loads(raw)
    except ValueError as error:
        raise unreadable("(line)", f"not JSON: {error}") from error
    if not isinstance(record, dict):
        raise unreadable("(line)", "not a JSON object")
    result = record.get("automatedEvaluationResult")
    if not isinstance(result, dict) or not isinstance(result.get("scores"), list):
        raise unreadable("automatedEvaluationResult.scores", "missing or not a list")
    scores: dict[str, float | None] = {}
    for position, score in enumerate(result["scores"]):
        field = f"automatedEvaluationResult.scores[{position}]"
        if not isinstance(score, dict) or not isinstance(score.get("metricName"), str):
            raise unreadable(f"{field}.metricName", "missing or not a string")
        value = score.get("result")
        # null: the judge's "not applicable" (user guide, judge prompt pages: mapped to NaN). Never a 0.
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise unreadable(f"{field}.result", f"not a number or null: {value!r}")
        scores[score["metricName"]] = None if value is None else float(value)
    record_in = record.get("inputRecord")
    if not isinstance(record_in, dict) or not isinstance(record_in.get("prompt"), str):
        raise unreadable("inputRecord.prompt", "missing or not a string")
    reference = record_in.get("referenceResponse")
    if reference is not None and not isinstance(reference, str):
        raise unreadable("inputRecord.referenceResponse", "not a string")
    # The user guide puts modelResponses beside inputRecord; judged BYOI output has it inside inputRecord too.
    responses = record.get("modelResponses") or record_in.get("modelResponses")
    field = "modelResponses"
    if not isinstance(responses, list) or not responses:
        raise unreadable(field, "missing or empty (neither beside nor inside inputRecord)")
    if not isinstance(responses[0], dict) or not isinstance(responses[0].get("response"), str):
        raise unreadable(f"{field}[0].response", "missing or not a string")
    return JudgedLine(
        source=uri,
        line=number,
        prompt=record_in["prompt"],
        reference=reference,
        response=responses[0]["response"],
        scores=scores,
    )
