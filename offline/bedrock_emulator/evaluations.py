"""Model evaluation jobs with a model as judge over precomputed responses ("bring your own inference responses"):
created, read, listed and stopped, InProgress until Completed on the logical clock (Stopping -> Stopped when
stopped, Failed by a fault or by what the job's service role cannot do), acting as their service role.

What Bedrock does (user guide pages and botocore shapes, as cited):
- The request (botocore CreateEvaluationJobRequest; user guide "Create a model evaluation job using built-in
  metrics"): one precomputed inference source (a judge job evaluates one model; the dataset page allows one
  modelIdentifier per job), a supported judge model, built-in judge metrics, taskType "General" (AWS's own
  examples; botocore's enum lacks it, see `validation`), at most 5 dataset configs.
- The job runs as its role ("Service role requirements for automatic model evaluation jobs"): Bedrock
  assumes it (trust: bedrock.amazonaws.com with aws:SourceAccount and aws:SourceArn evaluation-job/*), invokes the
  judge with it, reads each dataset and writes the results with it. A refusal fails the job (failureMessages), not
  the call, as for customization jobs.
- The dataset ("Create a prompt dataset for a model evaluation job that uses a model as judge"): JSON
  lines with `prompt`, optional `referenceResponse` and `category`, and `modelResponses` holding exactly one
  `{response, modelIdentifier}` whose modelIdentifier is the job's inferenceSourceIdentifier; at most 1,000 prompts.
  A dataset breaking these fails the job.
- The results ("Understand how the results of your model evaluation job are saved in Amazon S3"): one
  `<uuid>_output.jsonl` per dataset config when the job completes (see `judge`).
- No EventBridge event: Bedrock sends none for evaluation jobs ("How EventBridge for Amazon Bedrock works").

Not emulated (UnsupportedOperationError, so a test cannot lean on a made-up answer): human jobs, RAG jobs, custom
metrics, jobs that invoke the evaluated model themselves (`bedrockModel`), BatchDeleteEvaluationJob.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from offline.bedrock_emulator.core import Account, Handler, Params, Response, created_between, new_id, page
from offline.bedrock_emulator.errors import BedrockError, UnsupportedOperationError
from offline.bedrock_emulator.invocation_logs import split_s3_uri
from offline.bedrock_emulator.judge import (
    BUILTIN_METRICS,
    NOT_JUDGE_METRICS,
    job_prefix,
    judge_model,
    output_key,
    result_line,
)
from offline.bedrock_emulator.tags import Tags

MAX_PROMPTS = 1000
# taskType values a judge job takes: AWS's judge examples use General; botocore's enum lists the others.
TASK_TYPES = frozenset({"General", "Summarization", "Classification", "QuestionAndAnswer", "Generation", "Custom"})
# Where a job that cannot start fails, as a fraction of the evaluation's duration: Bedrock checks first.
_CHECKS_FRACTION = 0.05
PERMISSION_CHECK_OBJECT = "amazon-bedrock-evaluations-permission-check"


@dataclass
class DatasetRun:
    """One dataset config of a job and the lines the role read from it."""

    task_type: str
    name: str
    uri: str
    metric_names: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvaluationJob:
    arn: str
    job_id: str
    name: str
    region: str
    request: Params
    source: str
    judge: str
    datasets: list[DatasetRun]
    created_at: datetime
    ends_at: datetime
    planned_failure: str | None
    garbled_output: bool
    status: str = "InProgress"
    last_modified: datetime | None = None
    end_time: datetime | None = None
    stop_requested_at: datetime | None = None
    failure_messages: list[str] = field(default_factory=list)
    output_uris: list[str] = field(default_factory=list)


class EvaluationJobs:
    """Every evaluation job by ARN (a name is unique within its Region only). `evaluation_seconds`: creation to
    Completed (AWS does not document how long; observed minutes to hours); `stopping_seconds`: Stopping to Stopped."""

    def __init__(self, account: Account, *, tags: Tags, evaluation_seconds: float, stopping_seconds: float) -> None:
        self._account = account
        self._tags = tags
        self._duration = timedelta(seconds=evaluation_seconds)
        self._stopping = timedelta(seconds=stopping_seconds)
        self.by_arn: dict[str, EvaluationJob] = {}

    def operations(self) -> dict[str, Handler]:
        return {
            "CreateEvaluationJob": self._create,
            "GetEvaluationJob": self._get,
            "ListEvaluationJobs": self._list,
            "StopEvaluationJob": self._stop,
        }

    def settle(self, now: datetime) -> None:
        for job in self.by_arn.values():
            if job.end_time is not None:
                continue
            if job.stop_requested_at is not None:
                if now >= job.stop_requested_at + self._stopping:
                    self._finish(job, "Stopped", job.stop_requested_at + self._stopping)
            elif now >= job.ends_at:
                if job.planned_failure is not None:
                    self._finish(job, "Failed", job.ends_at, job.planned_failure)
                else:
                    self._complete(job)

    def find(self, identifier: str) -> EvaluationJob | None:
        """The job with that ARN (Get and Stop take the ARN only, botocore's EvaluationJobIdentifier)."""
        return self.by_arn.get(identifier)

    # Create -----------------------------------------------------------------------------------------------

    def _create(self, params: Params, region: str) -> Response:
        source, judge, datasets = _judge_job(params)
        token = params.get("clientRequestToken")
        for job in self.by_arn.values():
            if token is not None and job.request.get("clientRequestToken") == token:
                if job.request != params:
                    raise BedrockError(
                        "ConflictException", f"clientRequestToken {token} was used for a different request"
                    )
                return {"jobArn": job.arn}
        name = params["jobName"]
        if any(job.name == name and job.region == region for job in self.by_arn.values()):
            raise BedrockError("ConflictException", f"An evaluation job named {name} already exists")
        now = self._account.clock.now()
        job_id = new_id()
        job = EvaluationJob(
            arn=f"arn:aws:bedrock:{region}:{self._account.account_id}:evaluation-job/{job_id}",
            job_id=job_id,
            name=name,
            region=region,
            request=params,
            source=source,
            judge=judge,
            datasets=datasets,
            created_at=now,
            ends_at=now + self._duration,
            planned_failure=self._account.faults.take_evaluation_failure(name),
            garbled_output=self._account.faults.take_garbled_evaluation_output(name),
            last_modified=now,
        )
        try:
            self._start_as_service_role(job)
        except BedrockError as problem:
            # Bedrock accepts the job and fails it once it checks what the role can do and reads the datasets.
            job.planned_failure = problem.message
            job.ends_at = now + self._duration * _CHECKS_FRACTION
        self.by_arn[job.arn] = job
        self._tags.created(job.arn, params.get("jobTags", []))
        return {"jobArn": job.arn}

    def _start_as_service_role(self, job: EvaluationJob) -> None:
        """What Bedrock does as the job's role before judging: assume it, check it may invoke the judge, check it can
        write the output location, and read every dataset."""
        role = job.request["roleArn"]
        authority = self._account.service_role_authority
        if authority is not None:
            if problem := authority.assume(role, job.arn):
                raise BedrockError("ValidationException", f"Bedrock could not assume the service role: {problem}")
            if problem := authority.may_invoke(role, job.judge):
                raise BedrockError("ValidationException", f"The service role cannot invoke the judge model: {problem}")
        s3 = self._account.s3(job.region)
        bucket, prefix = split_s3_uri(job.request["outputDataConfig"]["s3Uri"])
        with self._account.acting_as(role):
            try:
                # As observed in public output locations (third-party): an empty object written before the job runs.
                s3.put_object(Bucket=bucket, Key=job_prefix(prefix, job.name, job.job_id) + PERMISSION_CHECK_OBJECT)
            except ClientError as error:
                raise BedrockError(
                    "ValidationException", f"Amazon Bedrock could not write to the output location as {role}: {error}"
                ) from error
            for dataset in job.datasets:
                dataset.records = _read_dataset(s3, dataset.uri, job.source, role)

    # Completion -------------------------------------------------------------------------------------------

    def _complete(self, job: EvaluationJob) -> None:
        s3 = self._account.s3(job.region)
        bucket, prefix = split_s3_uri(job.request["outputDataConfig"]["s3Uri"])
        uris = []
        try:
            with self._account.acting_as(job.request["roleArn"]):
                for dataset in job.datasets:
                    lines = [json.dumps(result_line(r, dataset.metric_names, job.judge)) for r in dataset.records]
                    if job.garbled_output and lines:
                        lines[-1] = lines[-1][: len(lines[-1]) // 2]
                    files = job_prefix(prefix, job.name, job.job_id)
                    key = output_key(files, job.source, dataset.task_type, dataset.name, str(uuid.uuid4()))
                    s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
                    uris.append(f"s3://{bucket}/{key}")
        except ClientError as error:
            self._finish(job, "Failed", job.ends_at, f"Unable to write the results to {bucket} as the role: {error}")
            return
        job.output_uris = uris
        self._finish(job, "Completed", job.ends_at)

    @staticmethod
    def _finish(job: EvaluationJob, status: str, at: datetime, message: str | None = None) -> None:
        job.status, job.end_time, job.last_modified = status, at, at
        if message is not None:
            job.failure_messages = [message[:2048]]

    # Read, list, stop -------------------------------------------------------------------------------------

    def _job(self, identifier: str) -> EvaluationJob:
        job = self.find(identifier)
        if job is None:
            raise BedrockError("ResourceNotFoundException", f"Evaluation job {identifier} not found")
        return job

    @staticmethod
    def _describe(job: EvaluationJob) -> Response:
        request = job.request
        response = {
            "jobName": job.name,
            "status": job.status,
            "jobArn": job.arn,
            "jobDescription": request.get("jobDescription"),
            "roleArn": request["roleArn"],
            "customerEncryptionKeyId": request.get("customerEncryptionKeyId"),
            "jobType": "Automated",
            "applicationType": request.get("applicationType", "ModelEvaluation"),
            "evaluationConfig": request["evaluationConfig"],
            "inferenceConfig": request["inferenceConfig"],
            "outputDataConfig": request["outputDataConfig"],
            "creationTime": job.created_at,
            "lastModifiedTime": job.last_modified,
            "failureMessages": job.failure_messages or None,
        }
        return {key: value for key, value in response.items() if value is not None}

    def _get(self, params: Params, region: str) -> Response:
        return self._describe(self._job(params["jobIdentifier"]))

    def _list(self, params: Params, region: str) -> Response:
        jobs = [
            job
            for job in created_between(self.by_arn.values(), params, lambda job: job.created_at)
            if job.region == region
            and params.get("statusEquals") in (None, job.status)
            and params.get("applicationTypeEquals") in (None, job.request.get("applicationType", "ModelEvaluation"))
            and params.get("nameContains", "").lower() in job.name.lower()
        ]
        summaries = [self._summary(job) for job in jobs]
        response = page(summaries, params, "jobSummaries")
        if not response["jobSummaries"]:
            # botocore's EvaluationSummaries has a minimum length of 1: no jobs is no list.
            del response["jobSummaries"]
        return response

    @staticmethod
    def _summary(job: EvaluationJob) -> Response:
        return {
            "jobArn": job.arn,
            "jobName": job.name,
            "status": job.status,
            "creationTime": job.created_at,
            "jobType": "Automated",
            "evaluationTaskTypes": list(dict.fromkeys(dataset.task_type for dataset in job.datasets)),
            "modelIdentifiers": [],
            "evaluatorModelIdentifiers": [job.judge],
            "inferenceConfigSummary": {
                "modelConfigSummary": {
                    "bedrockModelIdentifiers": [],
                    "precomputedInferenceSourceIdentifiers": [job.source],
                }
            },
            "applicationType": job.request.get("applicationType", "ModelEvaluation"),
        }

    def _stop(self, params: Params, region: str) -> Response:
        job = self._job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise BedrockError(
                "ValidationException", f"Evaluation job {job.name} is {job.status}; only InProgress jobs can be stopped"
            )
        job.status = "Stopping"
        job.stop_requested_at = job.last_modified = self._account.clock.now()
        return {}


def _judge_job(params: Params) -> tuple[str, str, list[DatasetRun]]:
    """(inferenceSourceIdentifier, judge model, dataset configs) of a judge job over precomputed responses; a
    ValidationException for what Bedrock refuses beyond botocore's shapes, UnsupportedOperationError for the kinds of
    job the emulator does not run."""
    if params.get("applicationType", "ModelEvaluation") != "ModelEvaluation":
        raise UnsupportedOperationError("The Bedrock emulator runs ModelEvaluation jobs only, not RAG evaluations")
    automated = params["evaluationConfig"].get("automated")
    models = params["inferenceConfig"].get("models")
    if automated is None or models is None:
        raise UnsupportedOperationError("The Bedrock emulator runs automated jobs over models only, not human or RAG")
    if "customMetricConfig" in automated:
        raise UnsupportedOperationError("The Bedrock emulator does not run custom metrics")
    if any("bedrockModel" in model for model in models):
        raise UnsupportedOperationError(
            "The Bedrock emulator judges precomputed responses only (precomputedInferenceSource), it does not invoke "
            "the evaluated model"
        )
    if len(models) != 1:
        raise BedrockError(
            "ValidationException",
            "A model evaluation job that uses a model as judge evaluates one model: give one "
            "precomputedInferenceSource and one modelIdentifier in the dataset",
        )
    source = str(models[0]["precomputedInferenceSource"]["inferenceSourceIdentifier"])
    evaluators = automated.get("evaluatorModelConfig", {}).get("bedrockEvaluatorModels")
    if not evaluators:
        raise BedrockError(
            "ValidationException", "evaluatorModelConfig is required for a model evaluation job that uses a judge"
        )
    judge_identifier = str(evaluators[0]["modelIdentifier"])
    judge = judge_model(judge_identifier)
    if judge is None:
        raise BedrockError(
            "ValidationException", f"The model {judge_identifier} is not supported as an evaluator (judge) model"
        )
    return source, judge_identifier, [_dataset_run(config) for config in automated["datasetMetricConfigs"]]


def _dataset_run(config: Params) -> DatasetRun:
    task_type, dataset = config["taskType"], config["dataset"]
    if task_type not in TASK_TYPES:
        raise BedrockError("ValidationException", f"taskType {task_type} is not supported; use General")
    for metric in config["metricNames"]:
        if metric in NOT_JUDGE_METRICS:
            raise BedrockError(
                "ValidationException", f"The metric {metric} is not a model-as-judge metric of a model evaluation job"
            )
        if metric not in BUILTIN_METRICS:
            raise BedrockError(
                "ValidationException",
                f"Unknown metric {metric}; built-in judge metrics: {', '.join(sorted(BUILTIN_METRICS))}",
            )
    location = dataset.get("datasetLocation", {}).get("s3Uri")
    if location is None:
        raise BedrockError(
            "ValidationException", f"Dataset {dataset['name']} needs datasetLocation.s3Uri: its responses are yours"
        )
    return DatasetRun(task_type, dataset["name"], location, list(config["metricNames"]))


def _read_dataset(s3: Any, uri: str, source: str, role: str) -> list[dict[str, Any]]:
    """The dataset's lines, read as the role; a BedrockError naming the first problem."""
    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise BedrockError("ValidationException", f"Unable to read the dataset {uri} as {role}: {error}") from error
    records = []
    for number, line in enumerate(body.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        if problem := _dataset_line_problem(line, source):
            raise BedrockError("ValidationException", f"{uri} line {number}: {problem}")
        records.append(json.loads(line))
    if not records:
        raise BedrockError("ValidationException", f"The dataset {uri} holds no prompts")
    if len(records) > MAX_PROMPTS:
        raise BedrockError(
            "ValidationException", f"The dataset {uri} holds {len(records)} prompts; a job takes at most {MAX_PROMPTS}"
        )
    return records


def _dataset_line_problem(line: str, source: str) -> str | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return "not a JSON object"
    if not isinstance(record, dict):
        return "not a JSON object"
    responses = record.get("modelResponses")
    single = responses[0] if isinstance(responses, list) and len(responses) == 1 else None
    checks = (
        (isinstance(record.get("prompt"), str), "prompt must be a string"),
        (isinstance(record.get("referenceResponse", ""), str), "referenceResponse must be a string"),
        (
            isinstance(single, dict),
            "modelResponses must hold exactly one {response, modelIdentifier}: a judge job takes one response a prompt",
        ),
        (isinstance(single, dict) and isinstance(single.get("response"), str), "modelResponses[0].response: a string"),
        (
            isinstance(single, dict) and single.get("modelIdentifier") == source,
            f"modelResponses[0].modelIdentifier must be the job's inferenceSourceIdentifier {source!r}",
        ),
    )
    return next((problem for holds, problem in checks if not holds), None)
