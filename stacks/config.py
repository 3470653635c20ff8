"""Every name, size and tunable of the app, typed and validated in one place.

Values come from `cdk.json` context and can be overridden with `cdk synth -c key=value`. An invalid
value stops synth with one message that names the context key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Self

from aws_cdk import Environment
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Node
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from bedrock_distill.catalog import (
    PROFILE_DESTINATIONS,
    ModelPair,
    TeacherRoute,
    describe_region,
    pair_problem,
    parse_model_id,
    region_default,
    teacher_problem,
)
from bedrock_distill.invocation_logging import ROLE_ARN_PATTERN
from bedrock_distill.preflight.filters import MAX_BASE_FILTERS, check_filter
from bedrock_distill.project import STACK_NAME
from bedrock_distill.workflow.settings import (
    DEFAULT_DECISION_METRIC,
    DEFAULT_EVALUATION_POLL_SECONDS,
    DEFAULT_JUDGE_METRICS,
    DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS,
    DEFAULT_PROMOTE_MIN_SHARE,
    MIN_EVALUATION_POLL_INTERVAL_SECONDS,
    MIN_JOB_POLL_INTERVAL_SECONDS,
    ModelPrice,
)
from stacks.pipeline_spec import (
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    WORKFLOW_FUNCTIONS,
    render_definition,
    substitutions,
)
from stacks.workflow_budget import Waits, shortest_evaluation_poll_seconds

# PROJECT_NAME and MIN_JOB_POLL_INTERVAL_SECONDS are the runtime's (the functions must agree with the stack);
# imported `X as X` (re-exported) so that the stack's components keep finding every setting here.
# The stack's construct id is its name (bedrock_distill/project.py), which the CLI looks the stack up by.
STACK_ID: Final = STACK_NAME

# The Makefile's PYTHON_VERSION: the venv every test tier runs on is this Python too.
LAMBDA_RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE: Final = lambda_.Architecture.ARM_64
LAMBDA_MEMORY_MB: Final = 512
LAMBDA_TIMEOUT_SECONDS: Final = 60
LAMBDA_CODE_DIR: Final = "lambdas"
# Built by `make layer` for LAMBDA_RUNTIME/LAMBDA_ARCHITECTURE (see the Makefile's LAYER_* variables).
LAMBDA_LAYER_DIR: Final = "build/lambda-layer"

INPUT_PREFIX: Final = "datasets"
OUTPUT_PREFIX: Final = "jobs"
ACCESS_LOG_RETENTION_DAYS: Final = 365

# CloudWatch Logs accepts only these retention periods (jsii enum values are names, not days).
_RETENTION_BY_DAYS: Final = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
# S3 key prefixes Bedrock accepts for log delivery: relative, no empty segments.
_KEY_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigurationError(ValueError):
    """Invalid app configuration; the message names the context key."""


# The judge, as AWS documents it (Amazon Bedrock User Guide, read 2026-11-28; re-check the pages, they change).
# "Supported Regions and models for model evaluation" (evaluation-support.html): where evaluation jobs run.
EVALUATION_REGIONS_PAGE: Final = "Supported Regions and models for model evaluation"
EVALUATION_REGIONS: Final = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
)
# "Evaluate model performance using another LLM as a judge" (evaluation-judge.html), "Supported evaluator models
# (built-in metrics)": the judges of built-in metrics; the page allows their cross-Region inference profiles too.
# It gives no Region per model: a judge named by model ID is invoked in the deploy Region, and that it is offered
# there is the user's to check ("Supported foundation models in Amazon Bedrock").
JUDGE_MODELS_PAGE: Final = "Evaluate model performance using another LLM as a judge"
JUDGE_MODEL_IDS: Final = (
    "amazon.nova-pro-v1:0",
    "amazon.nova-2-lite-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.nova-premier-v1:0",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "anthropic.claude-sonnet-4-20250514-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "mistral.mistral-large-2402-v1:0",
)
# "Use metrics to understand model performance" (model-evaluation-metrics.html): a judge job's built-in metrics.
JUDGE_METRICS_PAGE: Final = "Use metrics to understand model performance"
BUILTIN_JUDGE_METRICS: Final = (
    "Builtin.Correctness",
    "Builtin.Completeness",
    "Builtin.Faithfulness",
    "Builtin.Helpfulness",
    "Builtin.Coherence",
    "Builtin.Relevance",
    "Builtin.FollowingInstructions",
    "Builtin.ProfessionalStyleAndTone",
    "Builtin.Harmfulness",
    "Builtin.Stereotyping",
    "Builtin.Refusal",
)
# The execution's timeout (stacks/pipeline_spec.py) gives the judge one day after the 7-day job and the serving.
MAX_EVALUATION_HOURS: Final = 24
_INFERENCE_PROFILES_PAGE: Final = "Supported Regions and models for inference profiles"


def judge_problem(judge_model_id: str, region: str) -> str | None:
    """Why `judge_model_id` cannot judge built-in metrics in `region`; None when it can."""
    if region not in EVALUATION_REGIONS:
        return f"model evaluation jobs are not offered in {region} (user guide: {EVALUATION_REGIONS_PAGE})"
    reference = parse_model_id(judge_model_id)
    model_id = judge_model_id.split(".", 1)[1] if reference.is_inference_profile else judge_model_id
    if model_id not in JUDGE_MODEL_IDS:
        return (
            f"{judge_model_id} is not a judge AWS supports for built-in metrics (user guide: {JUDGE_MODELS_PAGE}); "
            f"use one of: {', '.join(JUDGE_MODEL_IDS)}, or a cross-Region inference profile of one"
        )
    if not reference.is_inference_profile:
        return None
    routes = PROFILE_DESTINATIONS.get(judge_model_id)
    if routes is None:
        listed = ", ".join(p for p in PROFILE_DESTINATIONS if p.split(".", 1)[1] in JUDGE_MODEL_IDS)
        return (
            f"the Regions inference profile {judge_model_id} routes to are not in bedrock_distill/catalog.json, and "
            f"IAM must name each: use the model ID {model_id} or a profile listed there ({listed})"
        )
    if region not in routes:
        return (
            f"inference profile {judge_model_id} cannot be called from {region} "
            f"(user guide: {_INFERENCE_PROFILES_PAGE})"
        )
    return None


def judge_route(judge_model_id: str, region: str) -> TeacherRoute:
    """What the evaluation job invokes for its judge from `region` (a judge `judge_problem` accepts), each of which
    IAM checks: the model in this Region, or the profile and its model in every Region the profile routes to."""
    if not parse_model_id(judge_model_id).is_inference_profile:
        return TeacherRoute(inference_profile_id=None, foundation_model_id=judge_model_id, regions=(region,))
    return TeacherRoute(
        inference_profile_id=judge_model_id,
        foundation_model_id=judge_model_id.split(".", 1)[1],
        regions=PROFILE_DESTINATIONS[judge_model_id][region],
    )


def evaluation_poll_floor_seconds(max_evaluation_hours: int) -> int:
    """The shortest evaluation poll a run may use: at least the runtime's floor, and short enough polls for
    `max_evaluation_hours` must still fit Step Functions' 25,000-event history beside a 7-day job polled as often
    as any run may, every retry and the serving wait (stacks/workflow_budget.py, from the definition)."""
    waits = Waits(
        job_poll_seconds=MIN_JOB_POLL_INTERVAL_SECONDS,
        serving_poll_seconds=min(PROVISIONED_THROUGHPUT_POLL_SECONDS, DEFAULT_MODEL_DEPLOYMENT_POLL_SECONDS),
        evaluation_poll_seconds=MIN_EVALUATION_POLL_INTERVAL_SECONDS,
        evaluation_seconds=max_evaluation_hours * 3600,
    )
    definition = render_definition(substitutions(dict.fromkeys(WORKFLOW_FUNCTIONS, "arn")))
    return max(MIN_EVALUATION_POLL_INTERVAL_SECONDS, shortest_evaluation_poll_seconds(definition, waits))


class EvaluationConfig(BaseModel):
    """The `evaluation` context key: how every run's student and teacher answers are judged, and the decision."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    # A judge of built-in metrics (JUDGE_MODEL_IDS) or a cross-Region profile of one; checked against the Region.
    judge_model_id: Annotated[str, Field(min_length=1)]
    metrics: Annotated[tuple[str, ...], Field(min_length=1)] = DEFAULT_JUDGE_METRICS
    # The metric the promote/hold decision is taken on: one of `metrics`.
    decision_metric: str = DEFAULT_DECISION_METRIC
    # Promote when the student keeps at least this share of the teacher's mean score on the decision metric.
    promote_min_share: Annotated[float, Field(gt=0, le=1)] = DEFAULT_PROMOTE_MIN_SHARE
    # Past this, the run stops its evaluation jobs and fails (EvaluationTimedOut).
    max_evaluation_hours: Annotated[int, Field(ge=1, le=MAX_EVALUATION_HOURS)] = MAX_EVALUATION_HOURS
    # Bedrock sends no evaluation-job events: the run polls, this often unless its input asks otherwise.
    poll_seconds: Annotated[int, Field(ge=MIN_EVALUATION_POLL_INTERVAL_SECONDS, le=24 * 3600)] = (
        DEFAULT_EVALUATION_POLL_SECONDS
    )

    @field_validator("judge_model_id")
    @classmethod
    def _judge_is_supported_here(cls, judge: str, info: ValidationInfo) -> str:
        region = (info.context or {}).get("region", "")
        if problem := judge_problem(judge, region):
            raise ValueError(problem)
        return judge

    @field_validator("metrics")
    @classmethod
    def _metrics_are_builtin(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        for metric in metrics:
            if metric not in BUILTIN_JUDGE_METRICS:
                raise ValueError(
                    f"{metric!r} is not a built-in judge metric (user guide: {JUDGE_METRICS_PAGE}); use any of: "
                    f"{', '.join(BUILTIN_JUDGE_METRICS)}"
                )
        if len(set(metrics)) != len(metrics):
            raise ValueError("names a metric twice")
        return metrics

    @field_validator("decision_metric")
    @classmethod
    def _decision_metric_is_judged(cls, metric: str, info: ValidationInfo) -> str:
        metrics = info.data.get("metrics")
        if metrics is not None and metric not in metrics:
            raise ValueError(f"{metric!r} is not one of evaluation.metrics ({', '.join(metrics)}): add it there")
        return metric

    @field_validator("poll_seconds")
    @classmethod
    def _polls_fit_the_history(cls, seconds: int, info: ValidationInfo) -> int:
        hours = info.data.get("max_evaluation_hours")
        if hours is not None and seconds < (shortest := evaluation_poll_floor_seconds(hours)):
            raise ValueError(
                f"{seconds} s polls for up to maxEvaluationHours ({hours}) may not fit Step Functions' 25,000-event "
                f"history beside a 7-day job: use at least {shortest}, or lower maxEvaluationHours"
            )
        return seconds


# What the CDK CLI sets for the app from your AWS configuration (`--profile`, or the default profile); the CDK
# developer guide ("Environments for the AWS CDK") has apps read exactly these. The app does not fall back to
# AWS_REGION/AWS_DEFAULT_REGION: the guide names no such fallback for the app, only the CLI's own resolution.
REGION_VARIABLE: Final = "CDK_DEFAULT_REGION"
ACCOUNT_VARIABLE: Final = "CDK_DEFAULT_ACCOUNT"


def deploy_environment(variables: Mapping[str, str]) -> Environment:
    """The stack's environment: the Region decides which model pairs Bedrock offers (bedrock_distill/catalog.json)."""
    region = variables.get(REGION_VARIABLE)
    if not region:
        raise ConfigurationError(
            f"No deploy Region: {REGION_VARIABLE} is not set. The CDK CLI sets it from your AWS profile's Region "
            f"(cdk synth/deploy --profile ...); to run app.py yourself, set it: {REGION_VARIABLE}=us-west-2"
        )
    return Environment(account=variables.get(ACCOUNT_VARIABLE) or None, region=region)


def _key_prefix(value: str) -> str:
    if value.startswith("/"):
        raise ValueError("must not start with '/': Bedrock writes '<prefix>/AWSLogs/...' relative to the bucket")
    if value.endswith("/"):
        raise ValueError("must not end with '/': the '/AWSLogs/...' separator is added for you")
    if not _KEY_PREFIX.fullmatch(value):
        raise ValueError("use letters, digits and !_.*'()- in '/'-separated segments")
    return value


class DistillConfig(BaseModel):
    """The app's configuration; field aliases are the `cdk.json` context keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    # The deploy Region (the stack's env), not a context key: every model pair is checked against it.
    region: Annotated[str, Field(min_length=1)]
    # Both empty in cdk.json: the Region's default pair (bedrock_distill/catalog.json, regionDefaults).
    teacher_model_id: Annotated[str, Field(min_length=1)]
    student_model_id: Annotated[str, Field(min_length=1)]
    # Further pairs a run may choose instead (execution input, upload settings): [{"teacher": ..., "student": ...}].
    # IAM grants exactly these and the configured pair (model_pairs).
    allowed_model_pairs: tuple[ModelPair, ...] = ()
    invocation_log_prefix: Annotated[str, AfterValidator(_key_prefix)]
    invocation_log_expiration_days: Annotated[int, Field(ge=1)]
    # The deploy-time limits of what one upload may spend and read (README "Threat model and deploy-time limits").
    max_provisioned_model_units: Annotated[int, Field(ge=1)] = 1
    max_concurrent_runs: Annotated[int, Field(ge=1)] = 2
    # Request-metadata key -> value every invocation-log record a run trains on must carry; {}: the whole account's.
    invocation_log_scope: dict[str, str] = Field(default_factory=dict)
    # Reserved for the upload-started function (it also caps it); 0: none.
    upload_function_reserved_concurrency: Annotated[int, Field(ge=0)] = 1
    # The judge of every run (EvaluationConfig).
    evaluation: EvaluationConfig
    # Your on-demand token prices (Amazon Bedrock pricing page), by teacher or student model ID as the pairs name
    # them (a student with its context suffix), in USD per million tokens:
    # {"<model id>": {"inputPerMillionTokens": ..., "outputPerMillionTokens": ...}}. None are shipped: a model
    # without one has no cost figure in the scorecard.
    model_prices_usd: dict[str, ModelPrice] = Field(default_factory=dict)
    provisioned_model_units: Annotated[int, Field(ge=1)]
    max_provisioned_throughput_hours: Annotated[int, Field(ge=1, le=24 * 30)]
    job_poll_interval_seconds: Annotated[int, Field(ge=MIN_JOB_POLL_INTERVAL_SECONDS, le=24 * 3600)]
    notification_email: str | None = None
    log_retention_days: int
    # Your Region's no-commitment PT price per model unit-hour (Bedrock pricing page); 0 = no estimate.
    provisioned_throughput_hourly_rate_usd: Annotated[float, Field(ge=0)] = 0.0
    # The role of an existing CloudWatch Logs delivery of model-invocation logging, which the stack keeps
    # and so must pass to Bedrock (lambdas/bedrock_distill/invocation_logging.py); blank = none.
    invocation_logging_role_arn: str | None = None

    @field_validator("teacher_model_id")
    @classmethod
    def _teacher_is_supported(cls, teacher: str) -> str:
        if problem := teacher_problem(teacher):
            raise ValueError(problem)
        return teacher

    @field_validator("student_model_id")
    @classmethod
    def _student_pairs_with_teacher(cls, student: str, info: Any) -> str:
        teacher = info.data.get("teacher_model_id")
        if teacher is not None and (problem := pair_problem(teacher, student, info.data.get("region"))):
            raise ValueError(problem)
        return student

    @field_validator("allowed_model_pairs", mode="before")
    @classmethod
    def _pairs_from_json_text(cls, value: object) -> object:
        return _from_context_text(value, [], 'a JSON list of {"teacher": ..., "student": ...}')

    @field_validator("allowed_model_pairs")
    @classmethod
    def _pairs_offered_here(cls, pairs: tuple[ModelPair, ...], info: Any) -> tuple[ModelPair, ...]:
        region = info.data.get("region")
        for index, pair in enumerate(pairs):
            if problem := pair_problem(pair.teacher, pair.student, region):
                raise ValueError(f"pair {index} ({pair}): {problem}")
        return pairs

    @field_validator("evaluation", mode="before")
    @classmethod
    def _evaluation_from_json_text(cls, value: object) -> object:
        return _from_context_text(value, {}, "a JSON object of the judge's settings")

    @field_validator("model_prices_usd", mode="before")
    @classmethod
    def _prices_from_json_text(cls, value: object) -> object:
        return _from_context_text(value, {}, 'a JSON object of {"<model id>": {"inputPerMillionTokens": ..., ...}}')

    @field_validator("model_prices_usd")
    @classmethod
    def _prices_are_for_the_deployments_models(
        cls, prices: dict[str, ModelPrice], info: ValidationInfo
    ) -> dict[str, ModelPrice]:
        teacher, student = info.data.get("teacher_model_id"), info.data.get("student_model_id")
        if teacher is None or student is None:
            return prices
        # The scorecard looks each side's price up by the model ID as the run names it (workflow/scorecard.py).
        pairs = (ModelPair(teacher, student), *info.data.get("allowed_model_pairs", ()))
        priced = {model for pair in pairs for model in (pair.teacher, pair.student)}
        for model in prices:
            if model not in priced:
                raise ValueError(
                    f"{model!r} is no teacher or student of this deployment's model pairs, so its price would never "
                    f"be used; price any of: {', '.join(sorted(priced))}"
                )
        return prices

    @field_validator("provisioned_model_units")
    @classmethod
    def _units_within_the_limit(cls, units: int, info: Any) -> int:
        limit = info.data.get("max_provisioned_model_units")
        if limit is not None and units > limit:
            raise ValueError(f"{units} is above maxProvisionedModelUnits ({limit}): lower it or raise the limit")
        return units

    @field_validator("invocation_log_scope", mode="before")
    @classmethod
    def _scope_from_json_text(cls, value: object) -> object:
        return _from_context_text(value, {}, 'a JSON object of {"metadata key": "value"}')

    @field_validator("invocation_log_scope")
    @classmethod
    def _scope_is_a_filter(cls, scope: dict[str, str]) -> dict[str, str]:
        # Each entry becomes a Bedrock equals filter ANDed into every run's (workflow/log_scope.py).
        if len(scope) > MAX_BASE_FILTERS:
            raise ValueError(f"holds {len(scope)} keys; Bedrock's andAll holds at most {MAX_BASE_FILTERS} conditions")
        for key, value in scope.items():
            if violations := check_filter({"equals": {key: value}}):
                raise ValueError(f"{key!r}: {violations[0].reason}")
        return scope

    @field_validator("notification_email", mode="before")
    @classmethod
    def _blank_email_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("notification_email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("is not an e-mail address")
        return value

    @field_validator("invocation_logging_role_arn", mode="before")
    @classmethod
    def _blank_role_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("invocation_logging_role_arn")
    @classmethod
    def _role_arn_shape(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN_PATTERN.fullmatch(value):
            raise ValueError("is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_supported(cls, value: int) -> int:
        if value not in _RETENTION_BY_DAYS:
            allowed = ", ".join(str(v) for v in _RETENTION_BY_DAYS)
            raise ValueError(f"CloudWatch Logs accepts only: {allowed}")
        return value

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION_BY_DAYS[self.log_retention_days]

    @property
    def model_pairs(self) -> tuple[ModelPair, ...]:
        """Every pair a run may use, the configured one first: what IAM grants and Preflight allows."""
        configured = ModelPair(self.teacher_model_id, self.student_model_id)
        return tuple(dict.fromkeys((configured, *self.allowed_model_pairs)))

    @classmethod
    def context_keys(cls) -> list[str]:
        return [field.alias or name for name, field in cls.model_fields.items() if name != "region"]

    @classmethod
    def from_context(cls, node: Node, region: str) -> Self:
        """Refuses a context key that is neither ours nor the CDK's: a typo in `-c` would otherwise pass unnoticed."""
        known = cls.context_keys()
        if unknown := [key for key in node.get_all_context() if key not in known and not _is_cdk_context_key(key)]:
            raise ConfigurationError(
                f"Invalid configuration: unknown context key '{unknown[0]}'; the known keys are: {', '.join(known)}"
            )
        raw = {key: node.try_get_context(key) for key in known}
        return cls.from_mapping({key: value for key, value in raw.items() if value is not None}, region)

    @classmethod
    def from_mapping(cls, values: dict[str, Any], region: str) -> Self:
        values = {**values, **_models_or_region_default(values, region), "region": region}
        try:
            # The judge is checked against the Region (EvaluationConfig reads it from the validation context).
            return cls.model_validate(values, context={"region": region})
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "(configuration)"
            reason = first["msg"].removeprefix("Value error, ")
            if first["type"] == "missing":
                # A context key itself, or a member of one (an allowedModelPairs item's "student", say).
                reason = "is required"
                if len(first["loc"]) == 1:
                    reason += ": set it in cdk.json context or with -c"
            raise ConfigurationError(f"Invalid configuration: context key '{key}': {reason}") from None


# Context the CDK itself reads or writes: feature flags (`@aws-cdk/aws-s3:...`), the CLI's settings (`aws:cdk:...`,
# `aws-cdk:...`), lookup results cached in cdk.context.json (`availability-zones:account=...`) all hold a ':'; our own
# keys are camelCase words. `cdk acknowledge` stores the notices it silences under the one key without a ':'.
_CDK_ACKNOWLEDGED_NOTICES_KEY: Final = "acknowledged-issue-numbers"


def _from_context_text(value: object, empty: object, expected: str) -> object:
    """A structured context value as `-c key='...'` gives it (text), or as cdk.json gives it (the value itself)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value) if value.strip() else empty
    except json.JSONDecodeError as error:
        raise ValueError(f"is not {expected}: {error.msg}") from None


def _is_cdk_context_key(key: str) -> bool:
    return ":" in key or key == _CDK_ACKNOWLEDGED_NOTICES_KEY


def _models_or_region_default(values: Mapping[str, Any], region: str) -> dict[str, str]:
    """The configured teacher and student, or, when both are left empty, the Region's default pair."""
    teacher, student = values.get("teacherModelId") or "", values.get("studentModelId") or ""
    if teacher and student:
        return {"teacherModelId": teacher, "studentModelId": student}
    default = region_default(region)
    if teacher or student:
        hint = f" for {region}'s default pair ({default})" if default else ""
        raise ConfigurationError(
            "Invalid configuration: context keys 'teacherModelId' and 'studentModelId': "
            f"set both, or leave both empty{hint}"
        )
    if default is None:
        raise ConfigurationError(
            "Invalid configuration: context keys 'teacherModelId' and 'studentModelId' are empty and "
            f"{region} has no default pair: {describe_region(region)}"
        )
    return {"teacherModelId": default.teacher, "studentModelId": default.student}
