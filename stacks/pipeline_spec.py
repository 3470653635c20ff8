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

DEFINITION_FILE: Final = Path(__file__).resolve().parents[1] / "statemachines" / "distillation.asl.json"
STATE_MACHINE_NAME_SUFFIX: Final = "distillation"

# A job may run 7 days; the PT, validation and cleanup get one more.
EXECUTION_TIMEOUT_SECONDS: Final = 8 * 24 * 3600
PROVISIONED_THROUGHPUT_POLL_SECONDS: Final = 60


@dataclass(frozen=True)
class FunctionSpec:
    substitution: str
    handler: str
    description: str
    timeout_seconds: int = 60
    memory_mb: int = 512


WORKFLOW_FUNCTIONS: Final[dict[str, FunctionSpec]] = {
    "Preflight": FunctionSpec(
        "PreflightFunctionArn",
        "bedrock_distill.handlers.preflight.handler",
        "Validates the execution input and the training data before anything is created",
        timeout_seconds=900,
        memory_mb=1024,
    ),
    "CreateJob": FunctionSpec(
        "CreateJobFunctionArn", "bedrock_distill.handlers.create_job.handler", "Creates the distillation job"
    ),
    "JobStatus": FunctionSpec(
        "JobStatusFunctionArn", "bedrock_distill.handlers.job_status.handler", "Reads the distillation job's status"
    ),
    "CollectMetrics": FunctionSpec(
        "CollectMetricsFunctionArn",
        "bedrock_distill.handlers.collect_metrics.handler",
        "Reads the job's metric CSVs into the run report",
        timeout_seconds=120,
    ),
    "CreateProvisionedThroughput": FunctionSpec(
        "CreateProvisionedThroughputFunctionArn",
        "bedrock_distill.handlers.create_provisioned_throughput.handler",
        "Buys no-commitment Provisioned Throughput for validation",
    ),
    "ProvisionedThroughputStatus": FunctionSpec(
        "ProvisionedThroughputStatusFunctionArn",
        "bedrock_distill.handlers.provisioned_throughput_status.handler",
        "Reads the Provisioned Throughput's status",
    ),
    "DeleteProvisionedThroughput": FunctionSpec(
        "DeleteProvisionedThroughputFunctionArn",
        "bedrock_distill.handlers.delete_provisioned_throughput.handler",
        "Deletes the run's Provisioned Throughput",
    ),
    "ValidateModel": FunctionSpec(
        "ValidateModelFunctionArn",
        "bedrock_distill.handlers.validate_model.handler",
        "Runs held-out prompts through Converse on the Provisioned Throughput",
        timeout_seconds=900,
        memory_mb=1024,
    ),
    "Notify": FunctionSpec(
        "NotifyFunctionArn", "bedrock_distill.handlers.notify.handler", "Publishes the run's outcome"
    ),
}


@dataclass(frozen=True)
class RetryTiming:
    """Retry intervals; the offline pipeline shortens them because moto really sleeps."""

    transient_interval_seconds: int = 2
    transient_max_delay_seconds: int = 60
    delete_interval_seconds: int = 10
    delete_max_delay_seconds: int = 120


def substitutions(function_arns: Mapping[str, str], timing: RetryTiming = RetryTiming()) -> dict[str, Any]:
    """Every `${...}` in the definition, by name. `function_arns` is keyed like WORKFLOW_FUNCTIONS."""
    values: dict[str, Any] = {spec.substitution: function_arns[name] for name, spec in WORKFLOW_FUNCTIONS.items()}
    values.update(
        {
            "TransientRetryIntervalSeconds": timing.transient_interval_seconds,
            "TransientRetryMaxDelaySeconds": timing.transient_max_delay_seconds,
            "DeleteRetryIntervalSeconds": timing.delete_interval_seconds,
            "DeleteRetryMaxDelaySeconds": timing.delete_max_delay_seconds,
            "ExecutionTimeoutSeconds": EXECUTION_TIMEOUT_SECONDS,
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
