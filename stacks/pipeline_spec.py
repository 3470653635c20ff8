"""The pipeline's functions and state-machine substitutions, as plain data.

The CDK pipeline construct deploys from this, and the offline pipeline (`offline/`) builds its moto
resources from it, so both run the same handlers with the same substitution names. No CDK imports here:
the offline pipeline must not start jsii.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bedrock_distill.workflow.execution_end import (
    EXECUTION_EVENT_SOURCE,
    EXECUTION_STATUS_CHANGE,
    UNHANDLED_END_STATUSES,
)
from bedrock_distill.workflow.job_waiter import JOB_EVENT_SOURCE, JOB_STATE_CHANGE
from bedrock_distill.workflow.run import JOB_NAME_PREFIX
from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX

DEFINITION_FILE: Final = Path(__file__).resolve().parents[1] / "statemachines" / "distillation.asl.json"
STATE_MACHINE_NAME_SUFFIX: Final = "distillation"

# A job may run 7 days; the serving, both sides' answers and cleanup get one more, and the judge another
# (an evaluation job is stopped after the deployment's maxEvaluationHours, 24 by default).
EXECUTION_TIMEOUT_SECONDS: Final = 9 * 24 * 3600
PROVISIONED_THROUGHPUT_POLL_SECONDS: Final = 60


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    description: str
    timeout_seconds: int = 60
    memory_mb: int = 512


def substitution_name(function_name: str) -> str:
    """The `${...}` under which the definition names a workflow function's ARN."""
    return f"{function_name}FunctionArn"


WORKFLOW_FUNCTIONS: Final[dict[str, FunctionSpec]] = {
    "Preflight": FunctionSpec(
        "bedrock_distill.handlers.preflight.handler",
        "Validates the execution input and the training data before anything is created",
        timeout_seconds=900,
        memory_mb=1024,
    ),
    "CreateJob": FunctionSpec("bedrock_distill.handlers.create_job.handler", "Creates the distillation job"),
    "JobStatus": FunctionSpec("bedrock_distill.handlers.job_status.handler", "Reads the distillation job's status"),
    "RegisterJobWaiter": FunctionSpec(
        "bedrock_distill.handlers.register_job_waiter.handler",
        "Files the job-wait task token for the job's state-change event",
    ),
    "CollectMetrics": FunctionSpec(
        "bedrock_distill.handlers.collect_metrics.handler",
        "Reads the job's metric CSVs into the run report",
        timeout_seconds=120,
    ),
    "CreateProvisionedThroughput": FunctionSpec(
        "bedrock_distill.handlers.create_provisioned_throughput.handler",
        "Buys no-commitment Provisioned Throughput for validation",
    ),
    "ProvisionedThroughputStatus": FunctionSpec(
        "bedrock_distill.handlers.provisioned_throughput_status.handler",
        "Reads the Provisioned Throughput's status",
    ),
    "DeleteProvisionedThroughput": FunctionSpec(
        "bedrock_distill.handlers.delete_provisioned_throughput.handler",
        "Deletes the run's Provisioned Throughput",
    ),
    "ValidateModel": FunctionSpec(
        "bedrock_distill.handlers.validate_model.handler",
        "Runs held-out prompts through Converse on the student's deployment or Provisioned Throughput",
        timeout_seconds=900,
        memory_mb=1024,
    ),
    "AnswerAsTeacher": FunctionSpec(
        "bedrock_distill.handlers.answer_as_teacher.handler",
        "Runs the held-out prompts through Converse on the teacher, on demand",
        timeout_seconds=900,
        memory_mb=1024,
    ),
    "CreateModelDeployment": FunctionSpec(
        "bedrock_distill.handlers.create_model_deployment.handler",
        "Deploys the distilled model for on-demand inference",
    ),
    "ModelDeploymentStatus": FunctionSpec(
        "bedrock_distill.handlers.model_deployment_status.handler",
        "Reads the on-demand deployment's status",
    ),
    "DeleteModelDeployment": FunctionSpec(
        "bedrock_distill.handlers.delete_model_deployment.handler",
        "Deletes the run's on-demand deployment",
    ),
    "CreateEvaluationJobs": FunctionSpec(
        "bedrock_distill.handlers.create_evaluation_jobs.handler",
        "Creates the LLM-as-a-judge evaluation jobs over the student's and the teacher's answers",
        timeout_seconds=120,
    ),
    "EvaluationStatus": FunctionSpec(
        "bedrock_distill.handlers.evaluation_status.handler",
        "Reads the evaluation jobs' statuses",
    ),
    "Score": FunctionSpec(
        "bedrock_distill.handlers.score.handler",
        "Reads the evaluation jobs' results into the scorecard and decides promote or hold",
        timeout_seconds=300,
        memory_mb=1024,
    ),
    "Notify": FunctionSpec("bedrock_distill.handlers.notify.handler", "Publishes the run's outcome"),
}


# Bedrock's job events and Step Functions' execution events carry the status in these fields.
JOB_END_STATUSES: Final = ["Completed", "Failed", "Stopping", "Stopped"]
# The ends the execution-end cleanup acts on, which it checks again itself (workflow/execution_end.py).
EXECUTION_END_STATUSES: Final = list(UNHANDLED_END_STATUSES)
SWEEP_SCHEDULE: Final = "rate(1 hour)"
# EventBridge's retry policy for the rules' targets; what still fails lands in the target's DLQ.
EVENT_RETRY_ATTEMPTS: Final = 8
EVENT_MAX_AGE_SECONDS: Final = 6 * 3600

# Functions outside the state machine, each invoked by the EventBridge rule (or schedule) it is named after.
EVENT_FUNCTIONS: Final[dict[str, FunctionSpec]] = {
    "StartFromUpload": FunctionSpec(
        "bedrock_distill.handlers.start_from_upload.handler",
        "Starts one execution per dataset version uploaded under the upload trigger prefix",
    ),
    "RelayJobEvent": FunctionSpec(
        "bedrock_distill.handlers.relay_job_event.handler",
        "Releases the execution waiting on a customization job when the job ends",
    ),
    "CleanUpExecution": FunctionSpec(
        "bedrock_distill.handlers.clean_up_execution.handler",
        "Deletes the PTs and stops the job of an execution that failed, timed out or was aborted",
        timeout_seconds=300,
    ),
    "SweepProvisionedThroughputs": FunctionSpec(
        "bedrock_distill.handlers.sweep_provisioned_throughputs.handler",
        "Deletes this project's PTs whose execution ended or that outlived their maximum lifetime",
        timeout_seconds=300,
    ),
}


def all_functions() -> dict[str, FunctionSpec]:
    return {**WORKFLOW_FUNCTIONS, **EVENT_FUNCTIONS}


def upload_pattern(bucket_name: str) -> dict[str, Any]:
    """S3 "Object Created" under the trigger prefix; the function itself keeps only `.jsonl` datasets
    (EventBridge matches one condition per field, and the prefix is the one that cuts traffic)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": [{"prefix": f"{UPLOAD_TRIGGER_PREFIX}/"}]},
        },
    }


def job_end_pattern() -> dict[str, Any]:
    return {
        "source": [JOB_EVENT_SOURCE],
        "detail-type": [JOB_STATE_CHANGE],
        # Only this project's jobs (their names' prefix; the event's detail.jobName, user guide "Monitor Amazon Bedrock
        # job state changes using Amazon EventBridge"): other teams' jobs never invoke the relay.
        "detail": {"jobStatus": JOB_END_STATUSES, "jobName": [{"prefix": f"{JOB_NAME_PREFIX}-"}]},
    }


def execution_end_pattern(state_machine_arn: str) -> dict[str, Any]:
    return {
        "source": [EXECUTION_EVENT_SOURCE],
        "detail-type": [EXECUTION_STATUS_CHANGE],
        "detail": {"stateMachineArn": [state_machine_arn], "status": EXECUTION_END_STATUSES},
    }


@dataclass(frozen=True)
class RetryTiming:
    """Retry intervals; the offline pipeline shortens them because moto really sleeps."""

    transient_interval_seconds: int = 2
    transient_max_delay_seconds: int = 60
    delete_interval_seconds: int = 10
    delete_max_delay_seconds: int = 120


def substitutions(
    function_arns: Mapping[str, str],
    timing: RetryTiming = RetryTiming(),
    execution_timeout_seconds: int = EXECUTION_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Every `${...}` in the definition, by name. `function_arns` is keyed like WORKFLOW_FUNCTIONS."""
    values: dict[str, Any] = {substitution_name(name): function_arns[name] for name in WORKFLOW_FUNCTIONS}
    values.update(
        {
            "TransientRetryIntervalSeconds": timing.transient_interval_seconds,
            "TransientRetryMaxDelaySeconds": timing.transient_max_delay_seconds,
            "DeleteRetryIntervalSeconds": timing.delete_interval_seconds,
            "DeleteRetryMaxDelaySeconds": timing.delete_max_delay_seconds,
            "ExecutionTimeoutSeconds": execution_timeout_seconds,
        }
    )
    return values


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def placeholders(definition_text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(definition_text))


def render_definition(values: Mapping[str, Any], definition_text: str | None = None) -> dict[str, Any]:
    """The definition with every substitution applied, as Step Functions receives it."""
    text = definition_text if definition_text is not None else DEFINITION_FILE.read_text()
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for substitution(s): {', '.join(sorted(missing))}")
    rendered: dict[str, Any] = json.loads(_PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text))
    return rendered
