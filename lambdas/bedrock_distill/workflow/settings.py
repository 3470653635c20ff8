"""What every workflow function knows from its deployment, as set by the pipeline construct."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from bedrock_distill.catalog import ModelPair

# Uploading a `.jsonl` under this key prefix of the inputs bucket starts a run. A sub-prefix of the stack's input
# prefix (`stacks/config.py` INPUT_PREFIX), so held-out prompts and datasets uploaded for `distill start` elsewhere
# under it do not start runs of their own.
UPLOAD_TRIGGER_PREFIX: Final = "datasets/incoming"
# The shortest fallback read of a job's status a run may ask for. A 7-day job waited for in rounds of N seconds
# costs ~13 history events a round (callback task, status read, choice); the 25,000-event history allows
# N >= ~380 s even if every job event is lost. The offline pipeline lowers it so tests run in seconds.
MIN_JOB_POLL_INTERVAL_SECONDS: Final = 600
# How long a PT may live before the sweeper deletes it whatever its execution does; the stack sets
# `maxProvisionedThroughputHours` from cdk.json, this is the value without one.
DEFAULT_MAX_PROVISIONED_THROUGHPUT_SECONDS: Final = 12 * 3600
# The judge's built-in metrics when the deployment names none (user guide, "Evaluate model performance using
# another LLM as a judge": built-in metric names), and the one the promote/hold decision is taken on.
DEFAULT_JUDGE_METRICS: Final = ("Builtin.Correctness", "Builtin.Completeness", "Builtin.Helpfulness")
DEFAULT_DECISION_METRIC: Final = "Builtin.Correctness"
# Promote when the student keeps at least this share of the teacher's mean score on the decision metric.
DEFAULT_PROMOTE_MIN_SHARE: Final = 0.9
# Evaluation jobs send no EventBridge event: the pipeline polls them, this often by default.
DEFAULT_EVALUATION_POLL_SECONDS: Final = 300
# The shortest evaluation poll a run may ask for: a 24-hour judge polled this often fits the 25,000-event history
# beside a 7-day job waited for at MIN_JOB_POLL_INTERVAL_SECONDS (~77 s would: test_state_machine_definition.py).
MIN_EVALUATION_POLL_INTERVAL_SECONDS: Final = 120
DEFAULT_MAX_EVALUATION_SECONDS: Final = 24 * 3600
DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS: Final = 60
# The shortest PT or deployment status poll a run may ask for: the history budget counts hours of provisioning at
# one round a minute (a 1-second poll would spend 25,000 events in two hours).
MIN_SERVING_POLL_INTERVAL_SECONDS: Final = 60

# The environment variable each setting is read from; the pipeline construct sets exactly these.
ENVIRONMENT_VARIABLES = {
    "output_bucket": "OUTPUT_BUCKET",
    "output_prefix": "OUTPUT_PREFIX",
    "service_role_arn": "DISTILLATION_ROLE_ARN",
    "default_teacher_model_id": "DEFAULT_TEACHER_MODEL_ID",
    "default_student_model_id": "DEFAULT_STUDENT_MODEL_ID",
    "allowed_model_pairs": "ALLOWED_MODEL_PAIRS",
    "invocation_log_source": "INVOCATION_LOG_SOURCE",
    "default_model_units": "PROVISIONED_MODEL_UNITS",
    "default_job_poll_seconds": "JOB_POLL_INTERVAL_SECONDS",
    "default_provisioned_throughput_poll_seconds": "PROVISIONED_THROUGHPUT_POLL_INTERVAL_SECONDS",
    "notification_topic_arn": "NOTIFICATION_TOPIC_ARN",
    "provisioned_throughput_hourly_rate_usd": "PROVISIONED_THROUGHPUT_HOURLY_RATE_USD",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "job_waiter_table": "JOB_WAITER_TABLE",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "min_job_poll_seconds": "MIN_JOB_POLL_INTERVAL_SECONDS",
    "upload_trigger_prefix": "UPLOAD_TRIGGER_PREFIX",
    "max_provisioned_throughput_seconds": "MAX_PROVISIONED_THROUGHPUT_SECONDS",
    "max_provisioned_model_units": "MAX_PROVISIONED_MODEL_UNITS",
    "invocation_log_scope": "INVOCATION_LOG_SCOPE",
    "max_concurrent_runs": "MAX_CONCURRENT_RUNS",
    "deploy_region": "DEPLOY_REGION",
    "evaluation_role_arn": "EVALUATION_ROLE_ARN",
    "judge_model_id": "JUDGE_MODEL_ID",
    "judge_metrics": "JUDGE_METRICS",
    "decision_metric": "DECISION_METRIC",
    "promote_min_share": "PROMOTE_MIN_SHARE",
    "model_prices_usd": "MODEL_PRICES_USD",
    "default_evaluation_poll_seconds": "EVALUATION_POLL_INTERVAL_SECONDS",
    "min_evaluation_poll_seconds": "MIN_EVALUATION_POLL_INTERVAL_SECONDS",
    "max_evaluation_seconds": "MAX_EVALUATION_SECONDS",
    "default_model_deployment_poll_seconds": "MODEL_DEPLOYMENT_POLL_INTERVAL_SECONDS",
    "min_serving_poll_seconds": "MIN_SERVING_POLL_INTERVAL_SECONDS",
}


class ModelPrice(BaseModel):
    """The user's price of one model's on-demand tokens (Amazon Bedrock pricing page), in USD per million tokens.
    The project ships no prices: a model without one has no cost figure in the scorecard."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    input_per_million_tokens: Annotated[float, Field(ge=0)]
    output_per_million_tokens: Annotated[float, Field(ge=0)]


class PipelineSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    output_bucket: str
    output_prefix: str
    service_role_arn: str
    default_teacher_model_id: str
    default_student_model_id: str
    invocation_log_source: str
    default_model_units: Annotated[int, Field(ge=1)]
    default_job_poll_seconds: Annotated[int, Field(ge=1)]
    default_provisioned_throughput_poll_seconds: Annotated[int, Field(ge=1)]
    notification_topic_arn: str = ""
    provisioned_throughput_hourly_rate_usd: Annotated[float, Field(ge=0)] = 0.0
    # For the functions outside the workflow: the upload trigger, the job-event relay, the cleanups.
    state_machine_arn: str = ""
    job_waiter_table: str = ""
    idempotency_table: str = ""
    min_job_poll_seconds: Annotated[int, Field(ge=1)] = MIN_JOB_POLL_INTERVAL_SECONDS
    upload_trigger_prefix: str = UPLOAD_TRIGGER_PREFIX
    max_provisioned_throughput_seconds: Annotated[int, Field(ge=1)] = DEFAULT_MAX_PROVISIONED_THROUGHPUT_SECONDS
    # The pairs a run may use, the default pair among them: the stack's allowedModelPairs plus its configured pair,
    # exactly what its IAM grants. In the environment as JSON: [{"teacher": ..., "student": ...}]. None (not set):
    # any pair the catalog documents, for a deployment that has no list (the stack always sets one).
    allowed_model_pairs: tuple[ModelPair, ...] | None = None
    # The deploy-time limits of a run (README "Threat model and deploy-time limits"); the stack always sets them.
    # None: not limited. The scope is the metadata key -> value every invocation-log record a run trains on must
    # carry (workflow/log_scope.py), in the environment as a JSON object; empty: the whole account's logs.
    max_provisioned_model_units: Annotated[int | None, Field(ge=1)] = None
    invocation_log_scope: dict[str, str] = Field(default_factory=dict)
    max_concurrent_runs: Annotated[int | None, Field(ge=1)] = None
    # The Region the stack is deployed to (where on-demand deployment is offered or not); "" when unknown.
    deploy_region: str = ""
    # The judge (workflow/evaluation.py): its service role, model, metrics, decision rule and the user's prices.
    evaluation_role_arn: str = ""
    judge_model_id: str = ""
    judge_metrics: tuple[str, ...] = DEFAULT_JUDGE_METRICS
    decision_metric: str = DEFAULT_DECISION_METRIC
    promote_min_share: Annotated[float, Field(gt=0, le=1)] = DEFAULT_PROMOTE_MIN_SHARE
    model_prices_usd: dict[str, ModelPrice] = Field(default_factory=dict)
    default_evaluation_poll_seconds: Annotated[int, Field(ge=1)] = DEFAULT_EVALUATION_POLL_SECONDS
    min_evaluation_poll_seconds: Annotated[int, Field(ge=1)] = MIN_EVALUATION_POLL_INTERVAL_SECONDS
    max_evaluation_seconds: Annotated[int, Field(ge=1)] = DEFAULT_MAX_EVALUATION_SECONDS
    default_model_deployment_poll_seconds: Annotated[int, Field(ge=1)] = DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS
    min_serving_poll_seconds: Annotated[int, Field(ge=1)] = MIN_SERVING_POLL_INTERVAL_SECONDS

    @field_validator("allowed_model_pairs", "invocation_log_scope", "judge_metrics", "model_prices_usd", mode="before")
    @classmethod
    def _pairs_from_json_text(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> PipelineSettings:
        values = {field: environment[name] for field, name in ENVIRONMENT_VARIABLES.items() if name in environment}
        return cls.model_validate(values)

    def to_environment(self) -> dict[str, str]:
        values = self.model_dump(mode="json", exclude_none=True)
        return {
            name: json.dumps(values[field]) if isinstance(values[field], list | dict) else str(values[field])
            for field, name in ENVIRONMENT_VARIABLES.items()
            if field in values
        }
