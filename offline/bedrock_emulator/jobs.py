"""Model customization jobs (distillation among them): created, read, listed and stopped, moving through
validation, data processing and training on the logical clock, acting as their service role, and emitting a
"Model Customization Job State Change" event at each status change.

Time-driven transitions are applied by `settle`, which the emulator calls before every answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from offline.bedrock_emulator import distillation
from offline.bedrock_emulator.core import (
    Account,
    Handler,
    Params,
    Response,
    base_model_arn,
    created_between,
    model_id,
    new_id,
    page,
    without_none,
)
from offline.bedrock_emulator.custom_models import CustomModels
from offline.bedrock_emulator.delivery import Outbox
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.events import job_state_change_event
from offline.bedrock_emulator.invocation_logs import split_s3_uri
from offline.bedrock_emulator.quotas import Quotas
from offline.bedrock_emulator.tags import Tags
from offline.bedrock_emulator.training import count_training_records, write_metrics

# Where each phase of a job starts and ends, as fractions of the job's duration.
_PHASES = (("validationDetails", 0.0, 0.05), ("dataProcessingDetails", 0.05, 0.3), ("trainingDetails", 0.3, 1.0))
# The job statuses that hold a slot of the customization jobs quota: every job not yet ended.
_ACTIVE_JOB_STATUSES = {"InProgress", "Stopping"}
_JOB_SUMMARY_KEYS = (
    "jobArn",
    "baseModelArn",
    "jobName",
    "status",
    "statusDetails",
    "lastModifiedTime",
    "creationTime",
    "endTime",
    "customizationType",
)


@dataclass
class Job:
    arn: str
    job_id: str
    name: str
    region: str
    request: Params
    created_at: datetime
    duration: timedelta
    ends_at: datetime
    planned_status: str
    planned_message: str | None
    training_records: int
    status: str = "InProgress"
    last_modified: datetime | None = None
    end_time: datetime | None = None
    stop_requested_at: datetime | None = None
    failure_message: str | None = None
    output_model_arn: str | None = None
    losses: tuple[float, float] | None = None


class CustomizationJobs:
    """Every job by name. `job_seconds`: creation to Completed; `stopping_seconds`: Stopping to Stopped."""

    def __init__(
        self,
        account: Account,
        *,
        custom_models: CustomModels,
        tags: Tags,
        outbox: Outbox,
        quotas: Quotas,
        job_seconds: float,
        stopping_seconds: float,
    ) -> None:
        self._account = account
        self._custom_models = custom_models
        self._tags = tags
        self._outbox = outbox
        self._quotas = quotas
        self._job_duration = timedelta(seconds=job_seconds)
        self._stopping = timedelta(seconds=stopping_seconds)
        self.by_name: dict[str, Job] = {}

    def operations(self) -> dict[str, Handler]:
        return {
            "CreateModelCustomizationJob": self._create_job,
            "GetModelCustomizationJob": self._get_job,
            "ListModelCustomizationJobs": self._list_jobs,
            "StopModelCustomizationJob": self._stop_job,
        }

    def settle(self, now: datetime) -> None:
        """Apply every transition due by `now`, queueing their events in time order."""
        mark = self._outbox.mark()
        for job in self.by_name.values():
            self._advance_job(job, now)
        # One settle can cover several jobs' transitions.
        self._outbox.sort_since(mark)

    def find(self, identifier: str) -> Job | None:
        """The job named `identifier` or with that ARN."""
        return next((job for job in self.by_name.values() if identifier in (job.name, job.arn)), None)

    def _create_job(self, params: Params, region: str) -> Response:
        # A pair not offered in this Region, a teacher in a form Bedrock does not take, a student without its suffix.
        if refused := distillation.refusal(params, region):
            raise BedrockError("ValidationException", refused)
        token = params.get("clientRequestToken")
        for job in self.by_name.values():
            if token is not None and job.request.get("clientRequestToken") == token:
                if job.request != params:
                    raise BedrockError(
                        "ConflictException", f"clientRequestToken {token} was used for a different request"
                    )
                return {"jobArn": job.arn}
        name = params["jobName"]
        if name in self.by_name:
            raise BedrockError("ConflictException", f"A model customization job named {name} already exists")
        active = sum(1 for j in self.by_name.values() if j.region == region and j.status in _ACTIVE_JOB_STATUSES)
        self._quotas.check_customization_jobs(active, region)
        now = self._account.clock.now()
        job_id = new_id()
        job_arn = (
            f"arn:aws:bedrock:{region}:{self._account.account_id}:model-customization-job/"
            f"{model_id(params['baseModelIdentifier'])}/{job_id}"
        )
        outcome = self._account.faults.take_job_outcome(name)
        try:
            records = self._read_as_service_role(params, job_arn, region)
            status, message = (outcome.status, outcome.message) if outcome else ("Completed", None)
            ends_at = now + self._job_duration
        except BedrockError as problem:
            # Bedrock accepts the job and fails it once validation reads the data.
            records, status, message = 0, "Failed", problem.message
            ends_at = now + self._job_duration * _PHASES[0][2]
        job = Job(
            arn=job_arn,
            job_id=job_id,
            name=name,
            region=region,
            request=params,
            created_at=now,
            duration=self._job_duration,
            ends_at=ends_at,
            planned_status=status,
            planned_message=message,
            training_records=records,
            last_modified=now,
        )
        self.by_name[name] = job
        self._tags.created(job.arn, params.get("jobTags", []))
        self._emit(job, now)
        return {"jobArn": job.arn}

    def _read_as_service_role(self, params: Params, job_arn: str, region: str) -> int:
        """What Bedrock does as the job's role before training: assume it, check it may invoke the teacher and
        reach the output location, and count the training records it can read. A refusal fails the job."""
        s3 = self._account.s3(region)
        authority = self._account.service_role_authority
        if authority is None:
            return count_training_records(s3, params["trainingDataConfig"])
        role = params["roleArn"]
        if problem := authority.assume(role, job_arn):
            raise BedrockError("ValidationException", f"Amazon Bedrock could not assume the service role: {problem}")
        distillation_config = params.get("customizationConfig", {}).get("distillationConfig", {})
        teacher = distillation_config.get("teacherModelConfig", {}).get("teacherModelIdentifier")
        if teacher and (problem := authority.may_invoke(role, teacher)):
            raise BedrockError("ValidationException", f"The service role cannot invoke the teacher model: {problem}")
        output_bucket, output_prefix = split_s3_uri(params["outputDataConfig"]["s3Uri"])
        with authority.acting_as(role):
            try:
                # Bedrock checks it can list the output location before it trains (the documented role policy
                # grants s3:ListBucket there).
                s3.list_objects_v2(Bucket=output_bucket, Prefix=output_prefix, MaxKeys=1)
                return count_training_records(s3, params["trainingDataConfig"])
            except ClientError as error:
                raise BedrockError(
                    "ValidationException", f"Amazon Bedrock could not access S3 as the service role {role}: {error}"
                ) from error

    def _find_job(self, identifier: str) -> Job:
        job = self.find(identifier)
        if job is None:
            raise BedrockError("ResourceNotFoundException", f"Model customization job {identifier} not found")
        return job

    def _advance_job(self, job: Job, now: datetime) -> None:
        if job.end_time is not None:
            return
        if job.stop_requested_at is not None:
            stopped_at = job.stop_requested_at + self._stopping
            if now >= stopped_at:
                self._finish(job, "Stopped", stopped_at)
        elif now >= job.ends_at:
            if job.planned_status == "Completed":
                self._complete(job)
            else:
                self._finish(job, job.planned_status, job.ends_at, job.planned_message)

    def _complete(self, job: Job) -> None:
        request = job.request
        output_uri = request["outputDataConfig"]["s3Uri"]
        try:
            with self._account.acting_as(request["roleArn"]):
                job.losses = write_metrics(
                    self._account.s3(job.region),
                    output_uri,
                    job.job_id,
                    job.training_records,
                    request.get("hyperParameters", {}),
                )
        except ClientError as error:
            self._finish(job, "Failed", job.ends_at, f"Unable to write output to {output_uri}: {error}")
            return
        job.output_model_arn = self._custom_models.register(job, *job.losses)
        self._finish(job, "Completed", job.ends_at)

    def _finish(self, job: Job, status: str, at: datetime, message: str | None = None) -> None:
        job.status, job.end_time, job.last_modified, job.failure_message = status, at, at, message
        self._emit(job, at)

    def _emit(self, job: Job, at: datetime) -> None:
        """Queue the event for `job`'s change to its current status at `at`."""
        event = job_state_change_event(
            job,
            account_id=self._account.account_id,
            base_model_arn=base_model_arn(job.request["baseModelIdentifier"], job.region),
            at=at,
        )
        if self._account.faults.event_lost(job.status, job.name):
            self._outbox.drop(event)
        else:
            self._outbox.queue(event)

    def _status_details(self, job: Job) -> Response:
        moment = job.end_time or self._account.clock.now()
        details: Response = {}
        current_seen = False
        for key, start_fraction, end_fraction in _PHASES:
            start = job.created_at + job.duration * start_fraction
            end = job.created_at + job.duration * end_fraction
            if job.status == "Completed" or moment > end:
                status = "Completed"
            elif moment < start or current_seen:
                status = "NotStarted"
            else:
                # The phase under way carries the job's own status: InProgress, Stopping, Failed, Stopped.
                status, current_seen = job.status, True
            if status == "NotStarted":
                details[key] = {"status": status}
            else:
                details[key] = {"status": status, "creationTime": start, "lastModifiedTime": min(moment, end)}
        return details

    def _describe_job(self, job: Job) -> Response:
        request = job.request
        response = {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": request["customModelName"],
            "outputModelArn": job.output_model_arn,
            "clientRequestToken": request.get("clientRequestToken"),
            "roleArn": request["roleArn"],
            "status": job.status,
            "statusDetails": self._status_details(job),
            "failureMessage": job.failure_message,
            "creationTime": job.created_at,
            "lastModifiedTime": job.last_modified,
            "endTime": job.end_time,
            "baseModelArn": base_model_arn(request["baseModelIdentifier"], job.region),
            "hyperParameters": request.get("hyperParameters"),
            "trainingDataConfig": request["trainingDataConfig"],
            "validationDataConfig": request.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": request["outputDataConfig"],
            "customizationType": request.get("customizationType", "FINE_TUNING"),
            "vpcConfig": request.get("vpcConfig"),
            "customizationConfig": request.get("customizationConfig"),
        }
        if job.losses is not None:
            response["trainingMetrics"] = {"trainingLoss": job.losses[0]}
            response["validationMetrics"] = [{"validationLoss": job.losses[1]}]
        return without_none(response)

    def _get_job(self, params: Params, region: str) -> Response:
        return self._describe_job(self._find_job(params["jobIdentifier"]))

    def _list_jobs(self, params: Params, region: str) -> Response:
        jobs = [
            job
            for job in created_between(self.by_name.values(), params, lambda job: job.created_at)
            if params.get("statusEquals") in (None, job.status)
            and params.get("nameContains", "").lower() in job.name.lower()
        ]
        summaries = []
        for job in jobs:
            described = self._describe_job(job)
            summary = {key: described[key] for key in _JOB_SUMMARY_KEYS if key in described}
            summaries.append(
                summary
                | without_none(
                    {"customModelArn": job.output_model_arn, "customModelName": described["outputModelName"]}
                )
            )
        return page(summaries, params, "modelCustomizationJobSummaries")

    def _stop_job(self, params: Params, region: str) -> Response:
        job = self._find_job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise BedrockError(
                "ValidationException", f"Job {job.name} is {job.status}; only InProgress jobs can be stopped"
            )
        job.status = "Stopping"
        job.stop_requested_at = job.last_modified = self._account.clock.now()
        self._emit(job, job.last_modified)
        return {}
