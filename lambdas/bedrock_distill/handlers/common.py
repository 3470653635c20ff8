"""What every workflow handler shares: Powertools utilities and the deployment's settings."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from bedrock_distill.workflow.settings import PipelineSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> PipelineSettings:
    return PipelineSettings.from_environment(os.environ)


class StateModel(BaseModel):
    """State data as the state machine carries it: camelCase JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_state(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json")


def to_state(model: BaseModel) -> dict[str, Any]:
    """A domain model as the state machine carries it: camelCase keys at the top level, JSON values.

    Nested values keep their keys: they are Bedrock's own (already camelCase) or free-form.
    """
    return {to_camel(key): value for key, value in model.model_dump(mode="json").items()}
