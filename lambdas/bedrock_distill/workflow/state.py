"""State data as the state machine carries it from state to state: camelCase JSON at every level.

One base for the handlers' requests and responses and for the domain models the state machine passes on (the
evaluation jobs, the parts of the state the outcome message reads). Unknown keys are ignored: a state carries
more than any one reader needs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class StateModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")
