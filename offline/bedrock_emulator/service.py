"""The emulated Bedrock account: one lock, one clock and one record of calls over its parts, each in its own
module: customization jobs and custom models (`jobs`, `custom_models`), Provisioned Throughput (`throughput`),
custom model deployments (`deployments`), evaluation jobs and their judge (`evaluations`, `judge`), Converse
(`runtime`), invocation logging (`invocation_logging`), tags (`tags`) and the foundation-model catalog
(`foundation_models`), with the quotas they enforce (`quotas`).

Time-driven transitions are applied lazily: every call first settles each job, Provisioned Throughput,
deployment and evaluation job to the clock's now, so a test that advances the clock sees the same states a poller
would have. `advance` and `settle` apply them without a call, so nothing depends on someone polling.

Every job status change emits one "Model Customization Job State Change" event (see `events`), in order,
to every subscribed sink. Events are collected under the lock and delivered after it is released (see
`delivery`), so a sink may call boto3 (moto, or Bedrock itself) from inside delivery.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self, TypeVar

from botocore.model import OperationModel

from offline.bedrock_emulator import interceptor
from offline.bedrock_emulator.clock import LogicalClock
from offline.bedrock_emulator.core import Account, Handler, Params, Response
from offline.bedrock_emulator.custom_models import CustomModels
from offline.bedrock_emulator.delivery import Outbox
from offline.bedrock_emulator.deployments import ModelDeployment, ModelDeployments
from offline.bedrock_emulator.errors import BedrockError, UnsupportedOperationError
from offline.bedrock_emulator.evaluations import EvaluationJob, EvaluationJobs
from offline.bedrock_emulator.events import Event, EventSink
from offline.bedrock_emulator.faults import Faults
from offline.bedrock_emulator.foundation_models import FoundationModelCatalog
from offline.bedrock_emulator.invocation_logging import InvocationLogging
from offline.bedrock_emulator.jobs import CustomizationJobs, Job
from offline.bedrock_emulator.models import modeled_error_codes
from offline.bedrock_emulator.quotas import Quotas
from offline.bedrock_emulator.runtime import Runtime
from offline.bedrock_emulator.service_role import ServiceRoleAuthority
from offline.bedrock_emulator.tags import Tags
from offline.bedrock_emulator.throughput import ProvisionedThroughput, ProvisionedThroughputs
from offline.bedrock_emulator.validation import validate_request

_Read = TypeVar("_Read")

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account, so ARNs agree with moto's resources

_STATUS_READS = {
    "GetModelCustomizationJob",
    "ListModelCustomizationJobs",
    "GetProvisionedModelThroughput",
    "ListProvisionedModelThroughputs",
    "GetCustomModelDeployment",
    "ListCustomModelDeployments",
    "GetEvaluationJob",
    "ListEvaluationJobs",
}


@dataclass(frozen=True)
class RecordedCall:
    operation: str
    params: Params
    region: str


class BedrockEmulator:
    """Answers `bedrock` and `bedrock-runtime` calls from any boto3 client while started.

    S3 reads and writes go through boto3, so run it inside moto's `mock_aws()`. All durations are
    logical seconds on `clock`:

    - `job_seconds`: creation to Completed (validation takes the first 5%, data processing up to 30%).
    - `provisioning_seconds`: a Provisioned Throughput's Creating -> InService (or Failed).
    - `deployment_seconds`: a custom model deployment's Creating -> Active (or Failed).
    - `evaluation_seconds`: an evaluation job's creation to Completed.
    - `stopping_seconds`: StopModelCustomizationJob's and StopEvaluationJob's Stopping -> Stopped.
    - `seconds_per_status_read`: each Get/List of jobs, Provisioned Throughputs, deployments or evaluation jobs
      advances the clock by this much first, so a polling workflow reaches the end without the test touching the
      clock.
    - `converse_latency_seconds`: a real sleep per Converse, outside the lock, for concurrency benchmarks.
    - `event_sinks`: receive every job state-change event (more with `subscribe`), e.g.
      `events.eventbridge_sink()` to put them on moto's default EventBridge bus.
    - `no_commitment_model_units`: the account's NO_COMMITMENT_UNITS_QUOTA (see `quotas`) in each Region. 0, as
      in a new account (user guide, "Purchase a Provisioned Throughput for an Amazon Bedrock model": MUs must be
      requested before any purchase), so whoever buys a PT sets it.
    - `customization_jobs`: the account's CUSTOMIZATION_JOBS_QUOTA in each Region (jobs InProgress or
      Stopping); None enforces none.
    - `custom_model_deployments`: how many deployments (not deleted) the account may hold in each Region; None
      enforces none (AWS documents no default).
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
        deployment_seconds: float = 600,
        evaluation_seconds: float = 3600,
        stopping_seconds: float = 60,
        seconds_per_status_read: float = 0.0,
        converse_latency_seconds: float = 0.0,
        clock: LogicalClock | None = None,
        event_sinks: Iterable[EventSink] = (),
        no_commitment_model_units: int = 0,
        customization_jobs: int | None = None,
        custom_model_deployments: int | None = None,
        models_without_access: Iterable[str] = (),
    ) -> None:
        self._account = Account(account_id, clock or LogicalClock(), Faults())
        self._seconds_per_status_read = seconds_per_status_read
        self._lock = threading.RLock()
        self._calls: list[RecordedCall] = []
        self._outbox = Outbox(self._lock, event_sinks)
        quotas = Quotas(
            no_commitment_model_units=no_commitment_model_units,
            customization_jobs=customization_jobs,
            custom_model_deployments=custom_model_deployments,
        )
        self._tags = Tags()
        self._custom_models = CustomModels(account_id, self._tags)
        self._jobs = CustomizationJobs(
            self._account,
            custom_models=self._custom_models,
            tags=self._tags,
            outbox=self._outbox,
            quotas=quotas,
            job_seconds=job_seconds,
            stopping_seconds=stopping_seconds,
        )
        self._throughputs = ProvisionedThroughputs(
            self._account,
            custom_models=self._custom_models,
            tags=self._tags,
            quotas=quotas,
            provisioning_seconds=provisioning_seconds,
        )
        self._deployments = ModelDeployments(
            self._account,
            custom_models=self._custom_models,
            tags=self._tags,
            quotas=quotas,
            deployment_seconds=deployment_seconds,
        )
        self._evaluations = EvaluationJobs(
            self._account, tags=self._tags, evaluation_seconds=evaluation_seconds, stopping_seconds=stopping_seconds
        )
        self._logging = InvocationLogging(
            self._account, caller_arn=f"arn:aws:sts::{account_id}:assumed-role/bedrock-emulator/session"
        )
        self._runtime = Runtime(
            throughputs=self._throughputs,
            deployments=self._deployments,
            custom_models=self._custom_models,
            logging=self._logging,
            faults=self._account.faults,
            latency_seconds=converse_latency_seconds,
        )
        self._operations: dict[str, Handler] = {
            **self._jobs.operations(),
            **self._custom_models.operations(),
            **self._throughputs.operations(),
            **self._deployments.operations(),
            **self._evaluations.operations(),
            **self._logging.operations(),
            **self._tags.operations(),
            **self._runtime.operations(),
            **FoundationModelCatalog(models_without_access).operations(),
        }

    @property
    def account_id(self) -> str:
        return self._account.account_id

    @property
    def clock(self) -> LogicalClock:
        return self._account.clock

    @property
    def faults(self) -> Faults:
        return self._account.faults

    @property
    def caller_arn(self) -> str:
        """The identity invocation log records name."""
        return self._logging.caller_arn

    @property
    def service_role_authority(self) -> ServiceRoleAuthority | None:
        """Set by the offline world to make jobs act as their service role (see `service_role`)."""
        return self._account.service_role_authority

    @service_role_authority.setter
    def service_role_authority(self, authority: ServiceRoleAuthority | None) -> None:
        self._account.service_role_authority = authority

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
        self._outbox.deliver()

    def subscribe(self, sink: EventSink) -> None:
        """`sink` receives every job state-change event emitted from now on (a copy each), in order."""
        self._outbox.subscribe(sink)

    @property
    def emitted_events(self) -> list[Event]:
        """Every event delivered to the sinks, in order (delivered even when no sink is subscribed)."""
        with self._lock:
            return list(self._outbox.emitted)

    @property
    def dropped_events(self) -> list[Event]:
        """Every event `faults.lose_job_events` dropped, in order: the job moved on, nobody was told."""
        with self._lock:
            return list(self._outbox.dropped)

    # Inspection -------------------------------------------------------------------------------------

    @property
    def jobs(self) -> dict[str, Job]:
        """Every job by name, settled to the clock's now."""
        return self._settled(lambda: dict(self._jobs.by_name))

    @property
    def custom_models(self) -> dict[str, Response]:
        """Every registered custom model by ARN, as GetCustomModel describes it."""
        return self._settled(lambda: copy.deepcopy(self._custom_models.by_arn))

    @property
    def provisioned_throughputs(self) -> dict[str, ProvisionedThroughput]:
        """Every Provisioned Throughput ever created by ARN, deleted ones included."""
        return self._settled(lambda: dict(self._throughputs.by_arn))

    def live_provisioned_throughputs(self) -> list[ProvisionedThroughput]:
        """The Provisioned Throughputs not deleted: each one would still be billing."""
        return [pt for pt in self.provisioned_throughputs.values() if not pt.deleted]

    @property
    def model_deployments(self) -> dict[str, ModelDeployment]:
        """Every custom model deployment ever created by ARN, deleted ones included."""
        return self._settled(lambda: dict(self._deployments.by_arn))

    def live_model_deployments(self) -> list[ModelDeployment]:
        """The custom model deployments not deleted: each one is left behind (it bills per token only, but it
        counts against the account's deployments and serves whoever may invoke it)."""
        return [deployment for deployment in self.model_deployments.values() if not deployment.deleted]

    @property
    def evaluation_jobs(self) -> dict[str, EvaluationJob]:
        """Every evaluation job by name, settled to the clock's now (a name is unique within its Region only: of two
        Regions' jobs of one name, the later one)."""
        return self._settled(lambda: {job.name: job for job in self._evaluations.by_arn.values()})

    def logging_configuration(self, region: str) -> Params | None:
        with self._lock:
            return copy.deepcopy(self._logging.by_region.get(region))

    def tags_of(self, arn: str) -> dict[str, str]:
        with self._lock:
            return self._tags.of(arn)

    @property
    def calls(self) -> list[RecordedCall]:
        """Every call answered, in order, failed and faulted ones included."""
        with self._lock:
            return list(self._calls)

    def call_count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    def resource_arn(self, kind: str, identifier: str) -> str | None:
        """The ARN Bedrock resolves a name or ARN of `kind` (model-customization-job, custom-model,
        provisioned-model, custom-model-deployment, evaluation-job) to, as IAM sees the request; None when there is
        no such resource."""
        with self._lock:
            if kind == "model-customization-job":
                job = self._jobs.find(identifier)
                return job.arn if job else None
            if kind == "custom-model":
                model = self._custom_models.find(identifier)
                return str(model["modelArn"]) if model else None
            if kind == "provisioned-model":
                pt = self._throughputs.find(identifier)
                return pt.arn if pt else None
            if kind == "custom-model-deployment":
                deployment = self._deployments.find(identifier)
                return deployment.arn if deployment else None
            if kind == "evaluation-job":
                evaluation = self._evaluations.find(identifier)
                return evaluation.arn if evaluation else None
        raise ValueError(f"unknown Bedrock resource kind {kind!r}")

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
            self._calls.append(RecordedCall(operation.name, params, region))
            fault = self.faults.error_for(operation.name)
            if fault is not None:
                raise fault
            validate_request(operation, params)
        self._runtime.wait_as_the_service(operation.name)
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
            self._logging.write_pending()
            return response
        finally:
            # Outside the lock: a sink may call back into boto3, moto or this emulator.
            self._outbox.deliver()

    def _settle(self) -> None:
        now = self.clock.now()
        self._jobs.settle(now)
        self._throughputs.settle(now)
        self._deployments.settle(now)
        self._evaluations.settle(now)

    def _settled(self, read: Callable[[], _Read]) -> _Read:
        """`read` of the state settled to the clock's now, with the events settling emitted."""
        with self._lock:
            self._settle()
            result = read()
        self._outbox.deliver()
        return result
