"""boto3 clients for the domain gateways, created on first use.

Creating them lazily lets tests activate moto and the Bedrock emulator before any client exists, lets a
warm Lambda reuse one client across invocations, and keeps boto3's import cost out of local CLI runs that
never touch AWS.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from bedrock_distill.project import PROJECT_NAME


class LazyClient:
    def __init__(self, service_name: str, client: Any | None = None) -> None:
        self._service_name = service_name
        if client is not None:
            self.__dict__["client"] = client

    @cached_property
    def client(self) -> Any:
        import boto3  # noqa: PLC0415 - see the module docstring
        from botocore.config import Config  # noqa: PLC0415

        # Standard mode retries throttling and 5xx with backoff; the state machine retries what is left.
        config = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra=PROJECT_NAME)
        return boto3.client(self._service_name, config=config)
