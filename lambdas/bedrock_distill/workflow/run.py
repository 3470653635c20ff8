"""The execution input (what a user starts a run with) and the run it becomes (every name decided).

The state machine passes the run from state to state, so every later step is a pure function of it
and of Bedrock's answers: a retried step derives the same names and idempotency tokens.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Final, Literal, NamedTuple, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from bedrock_distill.bedrock_uris import key_segment, s3_uri_problem
from bedrock_distill.catalog import ON_DEMAND_DEPLOYMENT_PAGE, allowed_pair_problem, on_demand_deployment_problem
from bedrock_distill.preflight.strict_json import value_problems
from bedrock_distill.workflow.log_scope import located, scoped_filter
from bedrock_distill.workflow.settings import PipelineSettings

PROJECT_TAG_KEY = "project"
PROJECT_TAG_VALUE = "bedrock-distill"
EXECUTION_TAG_KEY = "bedrock-distill:execution-arn"
# On a custom model deployment a run was asked to keep (keepDeployment): the sweep leaves it once its execution
# has SUCCEEDED. Every other deployment goes with its execution.
KEEP_ON_SUCCESS_TAG_KEY: Final = "bedrock-distill:keep-on-success"
KEEP_ON_SUCCESS_TAG_VALUE: Final = "true"
# Every run's job is named `distill-<execution>-<digest>`: the job-event rule matches only names with this prefix.
JOB_NAME_PREFIX: Final = "distill"

# Only our functions read validationPrompts and datasetSettings; what Bedrock reads is checked against its own
# S3Uri pattern when the run is planned (bedrock_uris.py).
_S3_URI = r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](/.*)?$"
_NOT_NAME_CHARACTERS = re.compile(r"[^a-zA-Z0-9]+")
# Bedrock's name shapes (botocore's `bedrock` model): JobName `[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*`,
# CustomModelName `([0-9a-zA-Z][_-]?){1,63}` and ProvisionedModelName `([0-9a-zA-Z][_-]?)+`, each 1-63
# characters. Letters and digits joined by single hyphens satisfy all three.
_MAX_NAME_LENGTH = 63
_NAME_DIGEST_LENGTH = 12
# Without validationPrompts, Preflight splits the training prompts into these two files under the run's
# prefix: the job trains on the first, validation runs on the second (workflow/hold_out.py).
TRAINING_REMAINDER_FILE = "data/training.jsonl"
HELD_OUT_PROMPTS_FILE = "data/held-out.jsonl"
# Under the run's prefix: both sides' answers to the held-out prompts, the judge's datasets and output, the scorecard.
TEACHER_RESPONSES_FILE: Final = "report/responses/teacher.jsonl"
STUDENT_RESPONSES_FILE: Final = "report/responses/student.jsonl"
STUDENT_EVALUATION_DATASET_FILE: Final = "evaluation/datasets/student.jsonl"
TEACHER_EVALUATION_DATASET_FILE: Final = "evaluation/datasets/teacher.jsonl"
EVALUATION_OUTPUT_FOLDER: Final = "evaluation/output"
SCORECARD_FILE: Final = "report/scorecard.json"
# Where a run's validation prompts come from: given (validationPrompts, or the uploaded prompts when a
# settings filter trains from invocation logs), or held out of its own training prompts before the job.
ValidationPromptsSource = Literal["given", "held-out"]
# How the distilled student is served for its answers: an on-demand custom model deployment (per token, nothing
# per hour; only some base models and Regions) or no-commitment Provisioned Throughput. "auto" picks on demand
# wherever AWS offers it.
ServingModeRequest = Literal["auto", "on-demand", "provisioned"]
ServingMode = Literal["on-demand", "provisioned"]
# The two sides a run judges; each gets its own responses file and evaluation job.
Side = Literal["student", "teacher"]
# Bedrock's EvaluationJobName (botocore `bedrock` model): lowercase only, unlike every other name a run makes.
_EVALUATION_JOB_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")


class _CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class _UserModel(_CamelModel):
    """What a user writes: no coercion (`"7"` is not 7, `true` is not 1, `3.0` is not 3)."""

    model_config = ConfigDict(strict=True)


def _refuse_empty(value: object) -> object:
    if value == "":
        raise PydanticCustomError("empty", "must not be empty")
    return value


# An empty model ID or URI would otherwise mean "the default" (`or` below): whoever wrote "" meant something else.
NotEmpty = BeforeValidator(_refuse_empty)


class InvocationLogsSource(_UserModel):
    """Distil from the teacher's own invocation logs, selected by request metadata."""

    source: Annotated[str | None, Field(pattern=_S3_URI), NotEmpty] = None
    request_metadata_filters: dict[str, Any] | None = None
    use_prompt_response: bool = False


class TrainingData(_UserModel):
    prompts: Annotated[str | None, Field(pattern=_S3_URI), NotEmpty] = None
    invocation_logs: InvocationLogsSource | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.prompts is None) == (self.invocation_logs is None):
            raise ValueError("give exactly one of 'prompts' (an s3:// JSONL file) or 'invocationLogs'")
        return self


class PollIntervals(_UserModel):
    job_seconds: Annotated[int | None, Field(ge=1, le=86_400)] = None
    provisioned_throughput_seconds: Annotated[int | None, Field(ge=1, le=3_600)] = None
    model_deployment_seconds: Annotated[int | None, Field(ge=1, le=3_600)] = None
    evaluation_seconds: Annotated[int | None, Field(ge=1, le=86_400)] = None


class ExecutionInput(_UserModel):
    """What `aws stepfunctions start-execution --input` takes. Everything but the training data is optional."""

    training_data: TrainingData
    teacher_model_id: Annotated[str | None, NotEmpty] = None
    student_model_id: Annotated[str | None, NotEmpty] = None
    validation_prompts: Annotated[str | None, Field(pattern=_S3_URI), NotEmpty] = None
    validation_sample_size: Annotated[int, Field(ge=1, le=500)] = 20
    max_response_length_for_inference: Annotated[int, Field(ge=1, le=32_000)] = 1000
    provisioned_model_units: Annotated[int | None, Field(ge=1)] = None
    poll_intervals: PollIntervals = PollIntervals()
    serving_mode: ServingModeRequest = "auto"
    # Keep the on-demand deployment after a successful run (it costs nothing idle) and hand its ARN over.
    keep_deployment: bool = False
    # A per-dataset settings file (see workflow/dataset_settings.py); Preflight reads and applies it.
    dataset_settings: Annotated[str | None, Field(pattern=_S3_URI), NotEmpty] = None

    @model_validator(mode="before")
    @classmethod
    def _within_json_limits(cls, data: object) -> object:
        """The input arrives parsed (by Step Functions and Lambda), so the strict reader's nesting and number
        limits are checked on the value; a repeated key is already gone."""
        if problems := value_problems(data):
            detail = "; ".join(f"{problem.field}: {problem.reason}" for problem in problems)
            raise PydanticCustomError("json_limits", "{detail}", {"detail": detail})
        return data


class ExecutionContext(_CamelModel):
    """The Step Functions context the state machine hands to the first state."""

    id: str
    name: str


class HeldOutSplit(_CamelModel):
    """How Preflight split the training prompts: each valid record is in exactly one of the two files."""

    dataset_uri: str
    dataset_records: int
    training_records: int
    held_out_records: int


class Run(_CamelModel):
    """The run as every later state sees it."""

    execution_arn: str
    execution_name: str
    teacher_model_id: str
    student_model_id: str
    training_data_config: dict[str, Any]
    training_source_kind: Literal["prompts", "invocationLogs"]
    training_source_uri: str
    output_s3_uri: str
    report_s3_uri: str
    job_name: str
    custom_model_name: str
    job_client_request_token: str
    provisioned_model_name: str
    provisioned_throughput_client_request_token: str
    provisioned_model_units: int
    # Always set: given, or the held-out file Preflight writes (validation_prompts_source says which).
    validation_prompts: str
    validation_prompts_source: ValidationPromptsSource
    validation_sample_size: int
    max_response_length_for_inference: int
    job_poll_seconds: int
    provisioned_throughput_poll_seconds: int
    preflight_report_uri: str | None = None
    # Set by Preflight when it held the validation prompts out of the training prompts.
    held_out: HeldOutSplit | None = None
    # Serving: resolved from servingMode when the run is planned, with the reason said in the outcome.
    serving_mode_requested: ServingModeRequest = "auto"
    serving_mode: ServingMode = "provisioned"
    serving_reason: str = ""
    model_deployment_name: str = ""
    model_deployment_client_request_token: str = ""
    keep_deployment: bool = False
    model_deployment_poll_seconds: int = 60
    # Judging: both sides' answers, their evaluation datasets and jobs, and the scorecard, all under the run prefix.
    teacher_responses_uri: str = ""
    student_responses_uri: str = ""
    student_evaluation_dataset_uri: str = ""
    teacher_evaluation_dataset_uri: str = ""
    evaluation_output_uri: str = ""
    scorecard_uri: str = ""
    student_evaluation_job_name: str = ""
    teacher_evaluation_job_name: str = ""
    student_evaluation_client_request_token: str = ""
    teacher_evaluation_client_request_token: str = ""
    evaluation_poll_seconds: int = 300

    def tags(self) -> list[dict[str, str]]:
        return [
            {"key": PROJECT_TAG_KEY, "value": PROJECT_TAG_VALUE},
            {"key": EXECUTION_TAG_KEY, "value": self.execution_arn},
        ]

    def model_deployment_tags(self) -> list[dict[str, str]]:
        """The run's tags, and the keep-on-success tag when the run was asked to keep its deployment."""
        keep = [{"key": KEEP_ON_SUCCESS_TAG_KEY, "value": KEEP_ON_SUCCESS_TAG_VALUE}] if self.keep_deployment else []
        return [*self.tags(), *keep]

    def evaluation_job_name(self, side: Side) -> str:
        return self.student_evaluation_job_name if side == "student" else self.teacher_evaluation_job_name

    def evaluation_client_request_token(self, side: Side) -> str:
        if side == "student":
            return self.student_evaluation_client_request_token
        return self.teacher_evaluation_client_request_token

    def responses_uri(self, side: Side) -> str:
        return self.student_responses_uri if side == "student" else self.teacher_responses_uri

    def evaluation_dataset_uri(self, side: Side) -> str:
        return self.student_evaluation_dataset_uri if side == "student" else self.teacher_evaluation_dataset_uri


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _name(prefix: str, execution_name: str, execution_arn: str) -> str:
    """A Bedrock resource name: readable from the execution name, unique by a digest of its ARN."""
    digest = _digest(execution_arn)[:_NAME_DIGEST_LENGTH]
    room = _MAX_NAME_LENGTH - len(f"{prefix}--{digest}")
    # Stripped again after the cut: a cut ending on a hyphen would double the one before the digest.
    readable = _NOT_NAME_CHARACTERS.sub("-", execution_name).strip("-")[:room].rstrip("-") or "run"
    return f"{prefix}-{readable}-{digest}"


TokenPurpose = Literal["job", "provisioned-throughput", "model-deployment", "evaluation-student", "evaluation-teacher"]


def client_request_token(execution_arn: str, purpose: TokenPurpose) -> str:
    """The idempotency token of one create call of the run: 64 hex digits, within Bedrock's IdempotencyToken
    shape (`[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?`, 1-256 characters)."""
    return _digest(execution_arn, purpose)[:64]


def run_folder(execution_name: str) -> str:
    """The run's folder under the output prefix (the job's outputDataConfig.s3Uri, the reports): the execution
    name, renamed where Bedrock's S3Uri pattern would refuse it (Step Functions allows `+`, `=`, `@`, ...)."""
    return key_segment(execution_name)


def run_prefix_uri(execution_name: str, settings: PipelineSettings) -> str:
    """Where everything of the run goes (no trailing slash): known from the execution before its input is read."""
    return f"s3://{settings.output_bucket}/{settings.output_prefix}/{run_folder(execution_name)}"


def report_prefix_uri(execution_name: str, settings: PipelineSettings) -> str:
    """The run's report folder: Preflight writes preflight.json there even for an input it cannot plan."""
    return f"{run_prefix_uri(execution_name, settings)}/report/"


class ResourceNames(_CamelModel):
    """The Bedrock names a run uses, derived from its execution alone: anyone holding the ARN can find them."""

    job_name: str
    custom_model_name: str
    provisioned_model_name: str
    model_deployment_name: str
    student_evaluation_job_name: str
    teacher_evaluation_job_name: str


def _evaluation_job_name(side: Side, execution_name: str, execution_arn: str) -> str:
    # Lowercased: unique still, by the digest of the execution ARN (lowercase hex) at its end.
    name = _name(f"distill-judge-{side}", execution_name, execution_arn).lower()
    assert _EVALUATION_JOB_NAME.match(name), name
    return name


def resource_names(execution_name: str, execution_arn: str) -> ResourceNames:
    return ResourceNames(
        job_name=_name(JOB_NAME_PREFIX, execution_name, execution_arn),
        custom_model_name=_name("distilled", execution_name, execution_arn),
        provisioned_model_name=_name("distill-pt", execution_name, execution_arn),
        # CustomModelDeploymentName: `([0-9a-zA-Z][_-]?){1,63}`, which letters and digits joined by single hyphens fit.
        model_deployment_name=_name("distill-serve", execution_name, execution_arn),
        student_evaluation_job_name=_evaluation_job_name("student", execution_name, execution_arn),
        teacher_evaluation_job_name=_evaluation_job_name("teacher", execution_name, execution_arn),
    )


def _uris_bedrock_refuses(
    training_data_config: dict[str, Any], output_s3_uri: str, training: TrainingData
) -> list[str]:
    """Each S3 URI the job request will carry that Bedrock would refuse, named as the execution input gives it
    (or as the deployment's setting it comes from), with what Bedrock allows."""
    logs = training_data_config.get("invocationLogsConfig", {})
    carried = {
        "trainingDataConfig.s3Uri": training_data_config.get("s3Uri"),
        "invocationLogSource.s3Uri": logs.get("invocationLogSource", {}).get("s3Uri"),
        "outputDataConfig.s3Uri": output_s3_uri,
    }
    given: dict[str | None, str] = {training.prompts: "input.trainingData.prompts"}
    if training.invocation_logs is not None:
        given[training.invocation_logs.source] = "input.trainingData.invocationLogs.source"
    problems = []
    for field, uri in carried.items():
        if uri is not None and (reason := s3_uri_problem(uri)):
            source = given.get(uri, "the deployment's settings")
            problems.append(f"{source}: Bedrock would refuse {uri!r} as the job's {field}: {reason}")
    return problems


def model_units_problem(units: int, settings: PipelineSettings) -> str | None:
    """Why a run may not buy a PT of `units` model units in this deployment; None when it may."""
    limit = settings.max_provisioned_model_units
    if limit is None or units <= limit:
        return None
    return (
        f"{units} model units is above this deployment's limit, maxProvisionedModelUnits = {limit}: ask for at most "
        f"{limit}, or have the stack redeployed with a higher maxProvisionedModelUnits"
    )


def resolve_serving(
    execution_input: ExecutionInput, student: str, settings: PipelineSettings
) -> tuple[ServingMode, str]:
    """The serving mode of the run and why: on demand wherever AWS offers it for the student in the deployment's
    Region (unless the input asks for provisioned), Provisioned Throughput otherwise. Raises ValueError when the
    input forces on demand where it is not offered, or asks to keep a deployment a provisioned run never makes."""
    requested = execution_input.serving_mode
    problem = on_demand_deployment_problem(student, settings.deploy_region)
    if requested == "on-demand" and problem is not None:
        raise ValueError(f"input.servingMode: 'on-demand' is not possible: {problem}; use 'auto' or 'provisioned'")
    if requested == "provisioned":
        mode: ServingMode = "provisioned"
        reason = "Provisioned Throughput, as the input asked (servingMode 'provisioned')"
    elif problem is None:
        mode = "on-demand"
        reason = (
            f"on demand: AWS deploys a custom {student} for on-demand inference in {settings.deploy_region} "
            f"(user guide: {ON_DEMAND_DEPLOYMENT_PAGE}); billed per token, nothing per hour"
        )
    else:
        mode = "provisioned"
        reason = f"Provisioned Throughput: {problem}"
    if execution_input.keep_deployment and mode != "on-demand":
        raise ValueError(
            "input.keepDeployment: this run buys Provisioned Throughput, which is always deleted; keepDeployment "
            f"keeps an on-demand deployment only ({reason})"
        )
    return mode, reason


class PollSeconds(NamedTuple):
    job: int
    provisioned_throughput: int
    model_deployment: int
    evaluation: int


# Each wait a run may tune, with the floor that keeps it within Step Functions' 25,000-event history (the budget:
# tests/unit/test_state_machine_definition.py) and why.
_SERVING_FLOOR_REASON = "hours of provisioning polled more often would not fit Step Functions' 25,000-event history"
_POLL_FLOOR_REASONS = {
    "jobSeconds": "a 7-day job must fit Step Functions' 25,000-event history even if every job event is lost",
    "evaluationSeconds": "the evaluation wait must fit Step Functions' 25,000-event history beside the job's",
    "provisionedThroughputSeconds": _SERVING_FLOOR_REASON,
    "modelDeploymentSeconds": _SERVING_FLOOR_REASON,
}


def poll_seconds(intervals: PollIntervals, settings: PipelineSettings) -> PollSeconds:
    """Each wait's interval, given or the deployment's default; ValueError for one below the deployment's floor."""
    chosen = {
        "jobSeconds": (intervals.job_seconds or settings.default_job_poll_seconds, settings.min_job_poll_seconds),
        "provisionedThroughputSeconds": (
            intervals.provisioned_throughput_seconds or settings.default_provisioned_throughput_poll_seconds,
            settings.min_serving_poll_seconds,
        ),
        "modelDeploymentSeconds": (
            intervals.model_deployment_seconds or settings.default_model_deployment_poll_seconds,
            settings.min_serving_poll_seconds,
        ),
        "evaluationSeconds": (
            intervals.evaluation_seconds or settings.default_evaluation_poll_seconds,
            settings.min_evaluation_poll_seconds,
        ),
    }
    for field, (seconds, floor) in chosen.items():
        if seconds < floor:
            raise ValueError(f"pollIntervals.{field} must be at least {floor}: {_POLL_FLOOR_REASONS[field]}")
    return PollSeconds(*(seconds for seconds, _ in chosen.values()))


def plan_run(execution_input: ExecutionInput, execution: ExecutionContext, settings: PipelineSettings) -> Run:
    """Decide every name, token and default of the run. Raises ValueError, before anything exists in Bedrock, on a
    model pair Bedrock does not offer or the deployment does not allow (its IAM would refuse the job), on more model
    units than the deployment allows, and on an invocation-log filter that would leave the deployment's scope."""
    teacher = execution_input.teacher_model_id or settings.default_teacher_model_id
    student = execution_input.student_model_id or settings.default_student_model_id
    if problem := allowed_pair_problem(teacher, student, settings.allowed_model_pairs):
        raise ValueError(problem)
    model_units = execution_input.provisioned_model_units or settings.default_model_units
    if problem := model_units_problem(model_units, settings):
        raise ValueError(f"input.provisionedModelUnits: {problem}")
    training = execution_input.training_data
    if training.invocation_logs is not None and execution_input.validation_prompts is None:
        raise ValueError(
            "validationPrompts is required when training from invocation logs: give an s3:// JSONL of held-out "
            "prompts (bedrock-conversation-2024, assistant turns as reference answers)"
        )
    run_prefix = run_prefix_uri(execution.name, settings)
    validation_prompts = execution_input.validation_prompts
    validation_prompts_source: ValidationPromptsSource = "given"
    if training.prompts is not None:
        kind: Literal["prompts", "invocationLogs"] = "prompts"
        source_uri = training.prompts
        training_data_config: dict[str, Any] = {"s3Uri": training.prompts}
        if validation_prompts is None:
            # Scoring the model on prompts it trained on would measure training fit: hold some out.
            training_data_config = {"s3Uri": f"{run_prefix}/{TRAINING_REMAINDER_FILE}"}
            validation_prompts = f"{run_prefix}/{HELD_OUT_PROMPTS_FILE}"
            validation_prompts_source = "held-out"
    else:
        assert training.invocation_logs is not None
        assert validation_prompts is not None  # refused above: logs hold no prompts to hold out
        kind = "invocationLogs"
        logs = training.invocation_logs
        source_uri = logs.source or settings.invocation_log_source
        logs_config: dict[str, Any] = {
            "usePromptResponse": logs.use_prompt_response,
            "invocationLogSource": {"s3Uri": source_uri},
        }
        # Computed once, here: the job request and Preflight's log scan both read it from the run.
        effective_filter, violations = scoped_filter(logs.request_metadata_filters, settings.invocation_log_scope)
        if violations:
            field = "input.trainingData.invocationLogs.requestMetadataFilters"
            raise ValueError("\n".join(located(field, violation) for violation in violations))
        if effective_filter is not None:
            logs_config["requestMetadataFilters"] = effective_filter
        training_data_config = {"invocationLogsConfig": logs_config}

    polls = poll_seconds(execution_input.poll_intervals, settings)
    if problems := _uris_bedrock_refuses(training_data_config, f"{run_prefix}/", training):
        raise ValueError("\n".join(problems))
    serving_mode, serving_reason = resolve_serving(execution_input, student, settings)
    names = resource_names(execution.name, execution.id)
    return Run(
        execution_arn=execution.id,
        execution_name=execution.name,
        teacher_model_id=teacher,
        student_model_id=student,
        training_data_config=training_data_config,
        training_source_kind=kind,
        training_source_uri=source_uri,
        output_s3_uri=f"{run_prefix}/",
        report_s3_uri=report_prefix_uri(execution.name, settings),
        job_name=names.job_name,
        custom_model_name=names.custom_model_name,
        job_client_request_token=client_request_token(execution.id, "job"),
        provisioned_model_name=names.provisioned_model_name,
        provisioned_throughput_client_request_token=client_request_token(execution.id, "provisioned-throughput"),
        provisioned_model_units=model_units,
        validation_prompts=validation_prompts,
        validation_prompts_source=validation_prompts_source,
        validation_sample_size=execution_input.validation_sample_size,
        max_response_length_for_inference=execution_input.max_response_length_for_inference,
        job_poll_seconds=polls.job,
        provisioned_throughput_poll_seconds=polls.provisioned_throughput,
        serving_mode_requested=execution_input.serving_mode,
        serving_mode=serving_mode,
        serving_reason=serving_reason,
        model_deployment_name=names.model_deployment_name,
        model_deployment_client_request_token=client_request_token(execution.id, "model-deployment"),
        keep_deployment=execution_input.keep_deployment,
        model_deployment_poll_seconds=polls.model_deployment,
        teacher_responses_uri=f"{run_prefix}/{TEACHER_RESPONSES_FILE}",
        student_responses_uri=f"{run_prefix}/{STUDENT_RESPONSES_FILE}",
        student_evaluation_dataset_uri=f"{run_prefix}/{STUDENT_EVALUATION_DATASET_FILE}",
        teacher_evaluation_dataset_uri=f"{run_prefix}/{TEACHER_EVALUATION_DATASET_FILE}",
        evaluation_output_uri=f"{run_prefix}/{EVALUATION_OUTPUT_FOLDER}/",
        scorecard_uri=f"{run_prefix}/{SCORECARD_FILE}",
        student_evaluation_job_name=names.student_evaluation_job_name,
        teacher_evaluation_job_name=names.teacher_evaluation_job_name,
        student_evaluation_client_request_token=client_request_token(execution.id, "evaluation-student"),
        teacher_evaluation_client_request_token=client_request_token(execution.id, "evaluation-teacher"),
        evaluation_poll_seconds=polls.evaluation,
    )
