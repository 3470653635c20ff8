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
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from bedrock_distill.catalog import ModelPair, describe_region, pair_problem, region_default, teacher_problem
from bedrock_distill.invocation_logging import ROLE_ARN_PATTERN
from bedrock_distill.preflight.filters import MAX_BASE_FILTERS, check_filter
from bedrock_distill.project import STACK_NAME
from bedrock_distill.workflow.settings import MIN_JOB_POLL_INTERVAL_SECONDS

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
            return cls.model_validate(values)
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
