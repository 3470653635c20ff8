"""The emulated Bedrock account: customization jobs, custom models, Provisioned Throughputs, invocation
logging and Converse, all moving on a logical clock.

Time-driven transitions are applied lazily: every call first settles each job and Provisioned Throughput
to the clock's now, so a test that advances the clock sees the same states a poller would have. `advance`
and `settle` apply them without a call, so nothing depends on someone polling.

Every job status change emits one "Model Customization Job State Change" event (see `events`), in order,
to every subscribed sink. Events are collected under the lock and delivered after it is released, so a sink
may call boto3 (moto, or Bedrock itself) from inside delivery.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import TracebackType
from typing import Any, Self, TypeVar

import boto3
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from botocore.utils import parse_timestamp

from offline.bedrock_emulator import distillation, interceptor
from offline.bedrock_emulator.clock import LogicalClock
from offline.bedrock_emulator.converse import answer, estimate_tokens, prompt_text
from offline.bedrock_emulator.errors import BedrockError, UnsupportedOperationError
from offline.bedrock_emulator.events import Event, EventSink, job_state_change_event
from offline.bedrock_emulator.faults import Faults
from offline.bedrock_emulator.invocation_logs import check_destination, split_s3_uri, write_record
from offline.bedrock_emulator.models import modeled_error_codes
from offline.bedrock_emulator.service_role import ServiceRoleAuthority
from offline.bedrock_emulator.training import count_training_records, write_metrics
from offline.bedrock_emulator.validation import validate_request

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account, so ARNs agree with moto's resources

Params = dict[str, Any]
_Item = TypeVar("_Item")
Response = dict[str, Any]

# Where each phase of a job starts and ends, as fractions of the job's duration.
_PHASES = (("validationDetails", 0.0, 0.05), ("dataProcessingDetails", 0.05, 0.3), ("trainingDetails", 0.3, 1.0))
_STATUS_READS = {
    "GetModelCustomizationJob",
    "ListModelCustomizationJobs",
    "GetProvisionedModelThroughput",
    "ListProvisionedModelThroughputs",
}
_COMMITMENT_TERMS = {"OneMonth": timedelta(days=30), "SixMonths": timedelta(days=180)}

# Service Quotas' names for the two quotas the emulator enforces, as the Service Quotas console lists them
# for Amazon Bedrock (the General Reference, "Amazon Bedrock endpoints and quotas", links there). Both are
# per account and per Region.
NO_COMMITMENT_UNITS_QUOTA = "Model units no-commitment Provisioned Throughputs across custom models"
CUSTOMIZATION_JOBS_QUOTA = "(Model customization) Scheduled customization jobs"
# The job statuses that hold a slot of CUSTOMIZATION_JOBS_QUOTA: every job not yet ended.
_ACTIVE_JOB_STATUSES = {"InProgress", "Stopping"}


@dataclass(frozen=True)
class RecordedCall:
    operation: str
    params: Params
    region: str


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


@dataclass
class ProvisionedThroughput:
    arn: str
    name: str
    region: str
    model_arn: str
    foundation_model_arn: str
    model_units: int
    commitment_duration: str | None
    client_request_token: str | None
    created_at: datetime
    ready_at: datetime
    planned_failure: str | None
    status: str = "Creating"
    last_modified: datetime | None = None
    failure_message: str | None = None
    deleted: bool = False

    @property
    def commitment_expiration(self) -> datetime | None:
        term = _COMMITMENT_TERMS.get(self.commitment_duration or "")
        return self.created_at + term if term else None


@dataclass
class _State:
    jobs: dict[str, Job] = field(default_factory=dict)
    custom_models: dict[str, Response] = field(default_factory=dict)
    provisioned_throughputs: dict[str, ProvisionedThroughput] = field(default_factory=dict)
    logging: dict[str, Params] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    emitted_events: list[Event] = field(default_factory=list)
    dropped_events: list[Event] = field(default_factory=list)


class BedrockEmulator:
    """Answers `bedrock` and `bedrock-runtime` calls from any boto3 client while started.

    S3 reads and writes go through boto3, so run it inside moto's `mock_aws()`. All durations are
    logical seconds on `clock`:

    - `job_seconds`: creation to Completed (validation takes the first 5%, data processing up to 30%).
    - `provisioning_seconds`: a Provisioned Throughput's Creating -> InService (or Failed).
    - `stopping_seconds`: StopModelCustomizationJob's Stopping -> Stopped.
    - `seconds_per_status_read`: each Get/List of jobs or Provisioned Throughputs advances the clock by
      this much first, so a polling workflow reaches the end without the test touching the clock.
    - `converse_latency_seconds`: a real sleep per Converse, outside the lock, for concurrency benchmarks.
    - `event_sinks`: receive every job state-change event (more with `subscribe`), e.g.
      `events.eventbridge_sink()` to put them on moto's default EventBridge bus.
    - `no_commitment_model_units`: the account's NO_COMMITMENT_UNITS_QUOTA in each Region. 0, as in a new
      account (user guide, "Purchase a Provisioned Throughput for an Amazon Bedrock model": MUs must be
      requested before any purchase), so whoever buys a PT sets it.
    - `customization_jobs`: the account's CUSTOMIZATION_JOBS_QUOTA in each Region (jobs InProgress or
      Stopping); None enforces none.
    - `models_without_access`: foundation model ids whose GetFoundationModelAvailability says the account has
      no access (not authorized, not entitled), as before model access is granted in the console. The models
      ListFoundationModels and GetFoundationModel know are the distillation table's in the Region.

    Inspection results (`jobs`, `provisioned_throughputs`, ...) are live objects: read them, never change them.
    """

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        job_seconds: float = 6 * 3600,
        provisioning_seconds: float = 600,
        stopping_seconds: float = 60,
        seconds_per_status_read: float = 0.0,
        converse_latency_seconds: float = 0.0,
        clock: LogicalClock | None = None,
        event_sinks: Iterable[EventSink] = (),
        no_commitment_model_units: int = 0,
        customization_jobs: int | None = None,
        models_without_access: Iterable[str] = (),
    ) -> None:
        self.account_id = account_id
        self.clock = clock or LogicalClock()
        self.faults = Faults()
        self.caller_arn = f"arn:aws:sts::{account_id}:assumed-role/bedrock-emulator/session"
        self._job_duration = timedelta(seconds=job_seconds)
        self._provisioning = timedelta(seconds=provisioning_seconds)
        self._stopping = timedelta(seconds=stopping_seconds)
        self._seconds_per_status_read = seconds_per_status_read
        self._converse_latency_seconds = converse_latency_seconds
        self._no_commitment_model_units = no_commitment_model_units
        self._customization_jobs = customization_jobs
        self._models_without_access = frozenset(models_without_access)
        # Set by the offline world to make jobs act as their service role (see `service_role`).
        self.service_role_authority: ServiceRoleAuthority | None = None
        self._lock = threading.RLock()
        # The invocation log a Converse on this thread still has to write, once the lock is released.
        self._pending = threading.local()
        self._state = _State()
        self._s3_clients: dict[str, Any] = {}
        self._sinks: list[EventSink] = list(event_sinks)
        self._outbox: deque[Event] = deque()
        self._delivering = False
        self._operations: dict[str, Callable[[Params, str], Response]] = {
            "CreateModelCustomizationJob": self._create_job,
            "GetModelCustomizationJob": self._get_job,
            "ListModelCustomizationJobs": self._list_jobs,
            "StopModelCustomizationJob": self._stop_job,
            "GetCustomModel": self._get_custom_model,
            "ListCustomModels": self._list_custom_models,
            "CreateProvisionedModelThroughput": self._create_provisioned_throughput,
            "GetProvisionedModelThroughput": self._get_provisioned_throughput,
            "ListProvisionedModelThroughputs": self._list_provisioned_throughputs,
            "DeleteProvisionedModelThroughput": self._delete_provisioned_throughput,
            "PutModelInvocationLoggingConfiguration": self._put_logging,
            "GetModelInvocationLoggingConfiguration": self._get_logging,
            "DeleteModelInvocationLoggingConfiguration": self._delete_logging,
            "TagResource": self._tag_resource,
            "UntagResource": self._untag_resource,
            "ListTagsForResource": self._list_tags,
            "Converse": self._converse,
            "ListFoundationModels": self._list_foundation_models,
            "GetFoundationModel": self._get_foundation_model,
            "GetFoundationModelAvailability": self._get_foundation_model_availability,
        }

    # Activation -------------------------------------------------------------------------------------

    def start(self) -> Self:
        interceptor.activate(self)
        return self

    def stop(self) -> None:
        interceptor.deactivate(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # Time and events -------------------------------------------------------------------------------

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and apply every transition due by then, emitting their events before it
        returns (unless another thread is delivering: it then delivers them). Returns the logical now."""
        now = self.clock.advance(seconds)
        self.settle()
        return now

    def settle(self) -> None:
        """Apply every transition due at the clock's now and emit their events, without moving the clock."""
        with self._lock:
            self._settle()
        self._deliver()

    def subscribe(self, sink: EventSink) -> None:
        """`sink` receives every job state-change event emitted from now on (a copy each), in order."""
        with self._lock:
            self._sinks.append(sink)

    @property
    def emitted_events(self) -> list[Event]:
        """Every event delivered to the sinks, in order (delivered even when no sink is subscribed)."""
        with self._lock:
            return list(self._state.emitted_events)

    @property
    def dropped_events(self) -> list[Event]:
        """Every event `faults.lose_job_events` dropped, in order: the job moved on, nobody was told."""
        with self._lock:
            return list(self._state.dropped_events)

    # Inspection -------------------------------------------------------------------------------------

    @property
    def jobs(self) -> dict[str, Job]:
        """Every job by name, settled to the clock's now."""
        with self._lock:
            self._settle()
            jobs = dict(self._state.jobs)
        self._deliver()
        return jobs

    @property
    def custom_models(self) -> dict[str, Response]:
        """Every registered custom model by ARN, as GetCustomModel describes it."""
        with self._lock:
            self._settle()
            models = copy.deepcopy(self._state.custom_models)
        self._deliver()
        return models

    @property
    def provisioned_throughputs(self) -> dict[str, ProvisionedThroughput]:
        """Every Provisioned Throughput ever created by ARN, deleted ones included."""
        with self._lock:
            self._settle()
            throughputs = dict(self._state.provisioned_throughputs)
        self._deliver()
        return throughputs

    def live_provisioned_throughputs(self) -> list[ProvisionedThroughput]:
        """The Provisioned Throughputs not deleted: each one would still be billing."""
        return [pt for pt in self.provisioned_throughputs.values() if not pt.deleted]

    def logging_configuration(self, region: str) -> Params | None:
        with self._lock:
            return copy.deepcopy(self._state.logging.get(region))

    def tags_of(self, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._state.tags.get(arn, {}))

    @property
    def calls(self) -> list[RecordedCall]:
        """Every call answered, in order, failed and faulted ones included."""
        with self._lock:
            return list(self._state.calls)

    def resource_arn(self, kind: str, identifier: str) -> str | None:
        """The ARN Bedrock resolves a name or ARN of `kind` (model-customization-job, custom-model,
        provisioned-model) to, as IAM sees the request; None when there is no such resource."""
        with self._lock:
            if kind == "model-customization-job":
                job = next((j for j in self._state.jobs.values() if identifier in (j.name, j.arn)), None)
                return job.arn if job else None
            if kind == "custom-model":
                model = self._find_custom_model(identifier)
                return str(model["modelArn"]) if model else None
            if kind == "provisioned-model":
                pts = self._state.provisioned_throughputs.values()
                pt = next((p for p in pts if not p.deleted and identifier in (p.arn, p.name)), None)
                return pt.arn if pt else None
        raise ValueError(f"unknown Bedrock resource kind {kind!r}")

    def call_count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    # Dispatch ---------------------------------------------------------------------------------------

    def handle(self, operation: OperationModel, params: Params, region: str) -> Response:
        """Answers one call; raises BedrockError for a service error, UnsupportedOperationError for a gap."""
        handler = self._operations.get(operation.name)
        if handler is None:
            raise UnsupportedOperationError(
                f"The Bedrock emulator does not implement {operation.service_model.service_name}:"
                f"{operation.name}; implement it in bedrock_emulator or keep the code under test off it"
            )
        with self._lock:
            self._state.calls.append(RecordedCall(operation.name, params, region))
            fault = self.faults.error_for(operation.name)
            if fault is not None:
                raise fault
            validate_request(operation, params)
        if operation.name == "Converse" and self._converse_latency_seconds:
            # Outside the lock, so concurrent callers wait in parallel as they would on the service.
            time.sleep(self._converse_latency_seconds)
        try:
            with self._lock:
                if operation.name in _STATUS_READS:
                    self.clock.advance(self._seconds_per_status_read)
                self._settle()
                try:
                    response = handler(params, region)
                except BedrockError as error:
                    if error.code not in modeled_error_codes(operation):
                        raise AssertionError(f"emulator bug: {operation.name} cannot raise {error.code}") from error
                    raise
            # Outside the lock, as Bedrock delivers logs on its own side: concurrent callers do not queue on S3.
            self._write_pending_log()
            return response
        finally:
            # Outside the lock: a sink may call back into boto3, moto or this emulator.
            self._deliver()

    def _s3(self, region: str) -> Any:
        if region not in self._s3_clients:
            self._s3_clients[region] = _s3_session().client("s3", region_name=region)
        return self._s3_clients[region]

    def _settle(self) -> None:
        now = self.clock.now()
        queued = len(self._outbox)
        for job in self._state.jobs.values():
            self._advance_job(job, now)
        if len(self._outbox) - queued > 1:
            # One settle can cover several jobs' transitions: emit them in time order (a stable sort keeps
            # each job's own order).
            settled = [self._outbox.pop() for _ in range(len(self._outbox) - queued)][::-1]
            self._outbox.extend(sorted(settled, key=lambda event: str(event["time"])))
        for pt in self._state.provisioned_throughputs.values():
            if pt.status == "Creating" and now >= pt.ready_at:
                pt.status = "Failed" if pt.planned_failure else "InService"
                pt.failure_message = pt.planned_failure
                pt.last_modified = pt.ready_at

    # Customization jobs and custom models -----------------------------------------------------------

    def _create_job(self, params: Params, region: str) -> Response:
        # A pair not offered in this Region, a teacher in a form Bedrock does not take, a student without its suffix.
        if refused := distillation.refusal(params, region):
            raise BedrockError("ValidationException", refused)
        token = params.get("clientRequestToken")
        for job in self._state.jobs.values():
            if token is not None and job.request.get("clientRequestToken") == token:
                if job.request != params:
                    raise BedrockError(
                        "ConflictException", f"clientRequestToken {token} was used for a different request"
                    )
                return {"jobArn": job.arn}
        name = params["jobName"]
        if name in self._state.jobs:
            raise BedrockError("ConflictException", f"A model customization job named {name} already exists")
        self._check_customization_jobs_quota(region)
        now = self.clock.now()
        job_id = _new_id()
        job_arn = (
            f"arn:aws:bedrock:{region}:{self.account_id}:model-customization-job/"
            f"{_model_id(params['baseModelIdentifier'])}/{job_id}"
        )
        outcome = self.faults.take_job_outcome(name)
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
        self._state.jobs[name] = job
        self._state.tags[job.arn] = _tag_map(params.get("jobTags", []))
        self._emit(job, now)
        return {"jobArn": job.arn}

    def _check_customization_jobs_quota(self, region: str) -> None:
        quota = self._customization_jobs
        if quota is None:
            return
        active = sum(1 for j in self._state.jobs.values() if j.region == region and j.status in _ACTIVE_JOB_STATUSES)
        if active >= quota:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{active} model customization job(s) are already in progress in {region}, the account's quota "
                f"'{CUSTOMIZATION_JOBS_QUOTA}' ({quota}). Wait for one to end, or request an increase of that "
                "quota in Service Quotas (Amazon Bedrock).",
            )

    def _as_bedrock(self) -> AbstractContextManager[None]:
        """Bedrock's own writes (invocation logs and their permission check) are made by the service under the
        log bucket's policy, not by the caller whose request it logs."""
        authority = self.service_role_authority
        return authority.as_service() if authority else nullcontext()

    def _read_as_service_role(self, params: Params, job_arn: str, region: str) -> int:
        """What Bedrock does as the job's role before training: assume it, check it may invoke the teacher and
        reach the output location, and count the training records it can read. A refusal fails the job."""
        authority = self.service_role_authority
        if authority is None:
            return count_training_records(self._s3(region), params["trainingDataConfig"])
        role = params["roleArn"]
        if problem := authority.assume(role, job_arn):
            raise BedrockError("ValidationException", f"Amazon Bedrock could not assume the service role: {problem}")
        distillation = params.get("customizationConfig", {}).get("distillationConfig", {})
        teacher = distillation.get("teacherModelConfig", {}).get("teacherModelIdentifier")
        if teacher and (problem := authority.may_invoke(role, teacher)):
            raise BedrockError("ValidationException", f"The service role cannot invoke the teacher model: {problem}")
        output_bucket, output_prefix = split_s3_uri(params["outputDataConfig"]["s3Uri"])
        with authority.acting_as(role):
            try:
                # Bedrock checks it can list the output location before it trains (the documented role policy
                # grants s3:ListBucket there).
                self._s3(region).list_objects_v2(Bucket=output_bucket, Prefix=output_prefix, MaxKeys=1)
                return count_training_records(self._s3(region), params["trainingDataConfig"])
            except ClientError as error:
                raise BedrockError(
                    "ValidationException", f"Amazon Bedrock could not access S3 as the service role {role}: {error}"
                ) from error

    def _find_job(self, identifier: str) -> Job:
        for job in self._state.jobs.values():
            if identifier in (job.name, job.arn):
                return job
        raise BedrockError("ResourceNotFoundException", f"Model customization job {identifier} not found")

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
        authority = self.service_role_authority
        try:
            with authority.acting_as(request["roleArn"]) if authority else nullcontext():
                job.losses = write_metrics(
                    self._s3(job.region),
                    output_uri,
                    job.job_id,
                    job.training_records,
                    request.get("hyperParameters", {}),
                )
        except ClientError as error:
            self._finish(job, "Failed", job.ends_at, f"Unable to write output to {output_uri}: {error}")
            return
        model_arn = (
            f"arn:aws:bedrock:{job.region}:{self.account_id}:custom-model/"
            f"{_model_id(request['baseModelIdentifier'])}/{_new_id()}"
        )
        training_loss, validation_loss = job.losses
        self._state.custom_models[model_arn] = _without_none(
            {
                "modelArn": model_arn,
                "modelName": request["customModelName"],
                "jobName": job.name,
                "jobArn": job.arn,
                "baseModelArn": _base_model_arn(request["baseModelIdentifier"], job.region),
                "customizationType": request.get("customizationType", "FINE_TUNING"),
                "hyperParameters": request.get("hyperParameters"),
                "trainingDataConfig": request["trainingDataConfig"],
                "validationDataConfig": request.get("validationDataConfig"),
                "outputDataConfig": request["outputDataConfig"],
                "trainingMetrics": {"trainingLoss": training_loss},
                "validationMetrics": [{"validationLoss": validation_loss}],
                "creationTime": job.ends_at,
                "customizationConfig": request.get("customizationConfig"),
                "modelStatus": "Active",
            }
        )
        self._state.tags[model_arn] = _tag_map(request.get("customModelTags", []))
        job.output_model_arn = model_arn
        self._finish(job, "Completed", job.ends_at)

    def _finish(self, job: Job, status: str, at: datetime, message: str | None = None) -> None:
        job.status, job.end_time, job.last_modified, job.failure_message = status, at, at, message
        self._emit(job, at)

    def _emit(self, job: Job, at: datetime) -> None:
        """Queue the event for `job`'s change to its current status at `at`; call under the lock."""
        event = job_state_change_event(
            job,
            account_id=self.account_id,
            base_model_arn=_base_model_arn(job.request["baseModelIdentifier"], job.region),
            at=at,
        )
        if self.faults.event_lost(job.status, job.name):
            self._state.dropped_events.append(event)
        else:
            self._outbox.append(event)

    def _deliver(self) -> None:
        """Hand every queued event to every sink, in order; call without holding the lock.

        One thread delivers at a time. A call made while another delivery is under way (from a sink, or
        another thread) leaves its events to that delivery, which runs until the queue is empty.
        """
        with self._lock:
            if self._delivering or not self._outbox:
                return
            self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._outbox:
                        self._delivering = False
                        return
                    event = self._outbox.popleft()
                    self._state.emitted_events.append(event)
                    sinks = list(self._sinks)
                for sink in sinks:
                    sink(copy.deepcopy(event))
        except BaseException:
            with self._lock:
                self._delivering = False
            raise

    def _status_details(self, job: Job) -> Response:
        moment = job.end_time or self.clock.now()
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
            "baseModelArn": _base_model_arn(request["baseModelIdentifier"], job.region),
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
        return _without_none(response)

    def _get_job(self, params: Params, region: str) -> Response:
        return self._describe_job(self._find_job(params["jobIdentifier"]))

    def _list_jobs(self, params: Params, region: str) -> Response:
        jobs = [
            job
            for job in _created_between(self._state.jobs.values(), params, lambda job: job.created_at)
            if params.get("statusEquals") in (None, job.status)
            and params.get("nameContains", "").lower() in job.name.lower()
        ]
        summaries = []
        for job in jobs:
            described = self._describe_job(job)
            summary = {key: described[key] for key in _JOB_SUMMARY_KEYS if key in described}
            summaries.append(
                summary
                | _without_none(
                    {"customModelArn": job.output_model_arn, "customModelName": described["outputModelName"]}
                )
            )
        return _page(summaries, params, "modelCustomizationJobSummaries")

    def _stop_job(self, params: Params, region: str) -> Response:
        job = self._find_job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise BedrockError(
                "ValidationException", f"Job {job.name} is {job.status}; only InProgress jobs can be stopped"
            )
        job.status = "Stopping"
        job.stop_requested_at = job.last_modified = self.clock.now()
        self._emit(job, job.last_modified)
        return {}

    def _find_custom_model(self, identifier: str) -> Response | None:
        return next(
            (m for m in self._state.custom_models.values() if identifier in (m["modelArn"], m["modelName"])), None
        )

    def _get_custom_model(self, params: Params, region: str) -> Response:
        model = self._find_custom_model(params["modelIdentifier"])
        if model is None:
            raise BedrockError("ResourceNotFoundException", f"Custom model {params['modelIdentifier']} not found")
        return copy.deepcopy(model)

    def _list_custom_models(self, params: Params, region: str) -> Response:
        models = [
            model
            for model in _created_between(self._state.custom_models.values(), params, lambda m: m["creationTime"])
            if params.get("nameContains", "").lower() in model["modelName"].lower()
            and params.get("baseModelArnEquals") in (None, model["baseModelArn"])
            and params.get("foundationModelArnEquals") in (None, model["baseModelArn"])
            and params.get("modelStatus") in (None, model["modelStatus"])
            and params.get("isOwned", True)
        ]
        summaries = [
            {key: model[key] for key in _MODEL_SUMMARY_KEYS}
            | {"baseModelName": model["baseModelArn"].rsplit("/", 1)[-1][:63], "ownerAccountId": self.account_id}
            for model in models
        ]
        return _page(summaries, params, "modelSummaries")

    # Provisioned Throughput -------------------------------------------------------------------------

    def _create_provisioned_throughput(self, params: Params, region: str) -> Response:
        token = params.get("clientRequestToken")
        for pt in self._state.provisioned_throughputs.values():
            if token is not None and pt.client_request_token == token:
                return {"provisionedModelArn": pt.arn}
        name = params["provisionedModelName"]
        if any(pt.name == name and not pt.deleted for pt in self._state.provisioned_throughputs.values()):
            raise BedrockError("ValidationException", f"A provisioned model named {name} already exists")
        model_arn, foundation_model_arn = self._resolve_model(params["modelId"], region)
        if params.get("commitmentDuration") is None and ":custom-model/" in model_arn:
            self._check_no_commitment_units_quota(params["modelUnits"], region)
        now = self.clock.now()
        pt = ProvisionedThroughput(
            arn=f"arn:aws:bedrock:{region}:{self.account_id}:provisioned-model/{_new_id()}",
            name=name,
            region=region,
            model_arn=model_arn,
            foundation_model_arn=foundation_model_arn,
            model_units=params["modelUnits"],
            commitment_duration=params.get("commitmentDuration"),
            client_request_token=token,
            created_at=now,
            ready_at=now + self._provisioning,
            planned_failure=self.faults.take_provisioned_throughput_failure(name),
            last_modified=now,
        )
        self._state.provisioned_throughputs[pt.arn] = pt
        self._state.tags[pt.arn] = _tag_map(params.get("tags", []))
        return {"provisionedModelArn": pt.arn}

    def _check_no_commitment_units_quota(self, units: int, region: str) -> None:
        """Live no-commitment PTs on custom models in `region` plus `units` may not pass the quota. Every PT not
        yet deleted holds its units, Creating and Failed ones too (AWS does not say otherwise: the strict reading)."""
        in_use = sum(
            pt.model_units
            for pt in self._state.provisioned_throughputs.values()
            if not pt.deleted
            and pt.region == region
            and pt.commitment_duration is None
            and ":custom-model/" in pt.model_arn
        )
        quota = self._no_commitment_model_units
        if in_use + units > quota:
            raise BedrockError(
                "ServiceQuotaExceededException",
                f"{units} no-commitment model unit(s) requested with {in_use} already in use in {region} exceed the "
                f"account's quota '{NO_COMMITMENT_UNITS_QUOTA}' ({quota}). Request an increase of that quota in "
                "Service Quotas (Amazon Bedrock), or delete a no-commitment Provisioned Throughput.",
            )

    def _resolve_model(self, model_id: str, region: str) -> tuple[str, str]:
        """(modelArn, foundationModelArn) for a custom model's name or ARN, or a foundation model's."""
        custom = self._find_custom_model(model_id)
        if custom is not None:
            return custom["modelArn"], custom["baseModelArn"]
        if ":custom-model/" in model_id:
            raise BedrockError("ResourceNotFoundException", f"Custom model {model_id} not found")
        foundation = _base_model_arn(model_id, region)
        return foundation, foundation

    def _find_provisioned_throughput(self, identifier: str) -> ProvisionedThroughput:
        for pt in self._state.provisioned_throughputs.values():
            if not pt.deleted and identifier in (pt.arn, pt.name):
                return pt
        raise BedrockError("ResourceNotFoundException", f"Provisioned model {identifier} not found")

    @staticmethod
    def _describe_provisioned_throughput(pt: ProvisionedThroughput) -> Response:
        return _without_none(
            {
                "modelUnits": pt.model_units,
                "desiredModelUnits": pt.model_units,
                "provisionedModelName": pt.name,
                "provisionedModelArn": pt.arn,
                "modelArn": pt.model_arn,
                "desiredModelArn": pt.model_arn,
                "foundationModelArn": pt.foundation_model_arn,
                "status": pt.status,
                "creationTime": pt.created_at,
                "lastModifiedTime": pt.last_modified,
                "failureMessage": pt.failure_message,
                "commitmentDuration": pt.commitment_duration,
                "commitmentExpirationTime": pt.commitment_expiration,
            }
        )

    def _get_provisioned_throughput(self, params: Params, region: str) -> Response:
        return self._describe_provisioned_throughput(self._find_provisioned_throughput(params["provisionedModelId"]))

    def _list_provisioned_throughputs(self, params: Params, region: str) -> Response:
        live = [pt for pt in self._state.provisioned_throughputs.values() if not pt.deleted]
        summaries = [
            {key: value for key, value in self._describe_provisioned_throughput(pt).items() if key != "failureMessage"}
            for pt in _created_between(live, params, lambda pt: pt.created_at)
            if params.get("statusEquals") in (None, pt.status)
            and params.get("modelArnEquals") in (None, pt.model_arn)
            and params.get("nameContains", "").lower() in pt.name.lower()
        ]
        return _page(summaries, params, "provisionedModelSummaries")

    def _delete_provisioned_throughput(self, params: Params, region: str) -> Response:
        pt = self._find_provisioned_throughput(params["provisionedModelId"])
        conflict = self.faults.take_delete_conflict(pt.name)
        if conflict is not None:
            raise BedrockError("ConflictException", conflict)
        expiration = pt.commitment_expiration
        if expiration is not None and self.clock.now() < expiration:
            raise BedrockError(
                "ValidationException",
                f"Provisioned model {pt.name} has a {pt.commitment_duration} commitment until "
                f"{expiration.isoformat()} and cannot be deleted before it ends",
            )
        pt.deleted = True
        pt.last_modified = self.clock.now()
        self._state.tags.pop(pt.arn, None)
        return {}

    # Invocation logging -----------------------------------------------------------------------------

    def _put_logging(self, params: Params, region: str) -> Response:
        configuration = params["loggingConfig"]
        if "s3Config" not in configuration and "cloudWatchConfig" not in configuration:
            raise BedrockError("ValidationException", "loggingConfig needs s3Config or cloudWatchConfig")
        if "s3Config" in configuration:
            with self._as_bedrock():
                check_destination(self._s3(region), configuration["s3Config"], region)
        self._state.logging[region] = copy.deepcopy(configuration)
        return {}

    def _get_logging(self, params: Params, region: str) -> Response:
        configuration = self._state.logging.get(region)
        return {"loggingConfig": copy.deepcopy(configuration)} if configuration else {}

    def _delete_logging(self, params: Params, region: str) -> Response:
        self._state.logging.pop(region, None)
        return {}

    # Foundation models: the catalog's, read-only ------------------------------------------------------

    def _list_foundation_models(self, params: Params, region: str) -> Response:
        kind = params.get("byCustomizationType")
        return {
            "modelSummaries": [
                _model_summary(model, region)
                for model in distillation.foundation_models(region)
                if kind is None or kind in model.customizations
            ]
        }

    def _foundation_model(self, identifier: str, region: str) -> distillation.FoundationModel:
        model_id = _model_id(identifier)
        for model in distillation.foundation_models(region):
            if model.model_id == model_id:
                return model
        raise BedrockError("ResourceNotFoundException", f"The model {identifier} does not exist in {region}.")

    def _get_foundation_model(self, params: Params, region: str) -> Response:
        return {"modelDetails": _model_summary(self._foundation_model(params["modelIdentifier"], region), region)}

    def _get_foundation_model_availability(self, params: Params, region: str) -> Response:
        model = self._foundation_model(params["modelId"], region)
        access = "NOT_AVAILABLE" if model.model_id in self._models_without_access else "AVAILABLE"
        return {
            "modelId": model.model_id,
            "agreementAvailability": {"status": access},
            "authorizationStatus": "NOT_AUTHORIZED" if access == "NOT_AVAILABLE" else "AUTHORIZED",
            "entitlementAvailability": access,
            "regionAvailability": "AVAILABLE",
        }

    # Tags -------------------------------------------------------------------------------------------

    def _taggable(self, arn: str) -> dict[str, str]:
        if arn not in self._state.tags:
            raise BedrockError("ResourceNotFoundException", f"Resource {arn} not found")
        return self._state.tags[arn]

    def _tag_resource(self, params: Params, region: str) -> Response:
        self._taggable(params["resourceARN"]).update(_tag_map(params["tags"]))
        return {}

    def _untag_resource(self, params: Params, region: str) -> Response:
        tags = self._taggable(params["resourceARN"])
        for key in params["tagKeys"]:
            tags.pop(key, None)
        return {}

    def _list_tags(self, params: Params, region: str) -> Response:
        tags = self._taggable(params["resourceARN"])
        return {"tags": [{"key": key, "value": value} for key, value in tags.items()]}

    # Runtime ----------------------------------------------------------------------------------------

    def _converse(self, params: Params, region: str) -> Response:
        model_id = params["modelId"]
        if ":provisioned-model/" in model_id:
            pt = self._find_provisioned_throughput(model_id)
            if pt.status == "Failed":
                raise BedrockError("ValidationException", f"Provisioned model {pt.name} is Failed")
            if pt.status != "InService":
                raise BedrockError("ModelNotReadyException", f"Provisioned model {pt.name} is {pt.status}")
        elif ":custom-model/" in model_id:
            raise BedrockError(
                "ValidationException", "A custom model is served through a Provisioned Throughput; use its ARN"
            )
        text, stop_reason = answer(params)
        input_tokens, output_tokens = estimate_tokens(prompt_text(params)), estimate_tokens(text)
        response: Response = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 150 + 8 * output_tokens},
        }
        self._log_invocation(params, response, region)
        return response

    def _log_invocation(self, params: Params, response: Response, region: str) -> None:
        configuration = self._state.logging.get(region, {})
        if "s3Config" not in configuration or not configuration.get("textDataDeliveryEnabled"):
            return
        now = self.clock.now()
        record = {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "accountId": self.account_id,
            "identity": {"arn": self.caller_arn},
            "region": region,
            "requestId": str(uuid.uuid4()),
            "operation": "Converse",
            "modelId": params["modelId"],
            "input": {
                "inputContentType": "application/json",
                "inputBodyJson": {
                    key: params[key] for key in ("messages", "system", "inferenceConfig") if key in params
                },
                "inputTokenCount": response["usage"]["inputTokens"],
            },
            "output": {
                "outputContentType": "application/json",
                "outputBodyJson": response,
                "outputTokenCount": response["usage"]["outputTokens"],
            },
        }
        if "requestMetadata" in params:
            record["requestMetadata"] = params["requestMetadata"]
        self._pending.log_write = (self._s3(region), copy.deepcopy(configuration["s3Config"]), record, now)

    def _write_pending_log(self) -> None:
        pending = getattr(self._pending, "log_write", None)
        if pending is not None:
            self._pending.log_write = None
            with self._as_bedrock():
                write_record(*pending)


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
_MODEL_SUMMARY_KEYS = ("modelArn", "modelName", "creationTime", "baseModelArn", "customizationType", "modelStatus")


@cache
def _s3_session() -> boto3.session.Session:
    # One session for every emulator: a new one reloads botocore's models, a tenth of a second a test.
    # Created at first use, inside moto's mock, so moto's handler is among its built-in handlers.
    return boto3.session.Session()


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _model_id(identifier: str) -> str:
    """The bare model id inside a foundation-model or custom-model ARN, or the identifier itself."""
    if ":custom-model/" in identifier:
        return identifier.split("/")[1]
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


def _base_model_arn(identifier: str, region: str) -> str:
    return identifier if identifier.startswith("arn:") else f"arn:aws:bedrock:{region}::foundation-model/{identifier}"


def _model_summary(model: distillation.FoundationModel, region: str) -> Response:
    return {
        "modelArn": _base_model_arn(model.model_id, region),
        "modelId": model.model_id,
        "providerName": model.provider,
        "customizationsSupported": list(model.customizations),
        "modelLifecycle": {"status": "ACTIVE"},
    }


def _tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in tags}


def _without_none(response: Response) -> Response:
    return {key: value for key, value in response.items() if value is not None}


def _as_utc(value: Any) -> datetime:
    moment: datetime = value if isinstance(value, datetime) else parse_timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _created_between(items: Iterable[_Item], params: Params, created: Callable[[_Item], datetime]) -> list[_Item]:
    """Items created strictly between the request's creationTimeAfter and creationTimeBefore, sorted by
    creation time in the request's sortOrder (newest first by default)."""
    after, before = params.get("creationTimeAfter"), params.get("creationTimeBefore")
    kept = [
        item
        for item in items
        if (after is None or created(item) > _as_utc(after)) and (before is None or created(item) < _as_utc(before))
    ]
    return sorted(kept, key=created, reverse=params.get("sortOrder", "Descending") == "Descending")


def _page(items: list[Response], params: Params, key: str) -> Response:
    token = params.get("nextToken", "0")
    if not token.isdigit():
        raise BedrockError("ValidationException", f"Invalid nextToken {token}")
    start, size = int(token), params.get("maxResults", 100)
    response: Response = {key: items[start : start + size]}
    if start + size < len(items):
        response["nextToken"] = str(start + size)
    return response
