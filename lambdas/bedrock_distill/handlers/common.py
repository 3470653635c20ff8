"""What every workflow handler shares: Powertools utilities and the deployment's settings."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from bedrock_distill.workflow.settings import PipelineSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> PipelineSettings:
    return PipelineSettings.from_environment(os.environ)


def to_state(model: BaseModel) -> dict[str, Any]:
    """A domain model as the state machine carries it: camelCase keys at the top level, JSON values.

    Nested values keep their keys: they are Bedrock's own (already camelCase) or free-form.
    """
    return {to_camel(key): value for key, value in model.model_dump(mode="json").items()}
