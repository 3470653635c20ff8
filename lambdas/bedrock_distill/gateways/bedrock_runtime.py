"""Amazon Bedrock's runtime: the Converse API, for validation inference and for the CLI's teacher calls."""

from __future__ import annotations

from typing import Any, Final

from bedrock_distill.gateways.calls import aws_call
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "bedrock-runtime"


class BedrockRuntimeGateway:
    def __init__(self, runtime: LazyClient | None = None) -> None:
        self._runtime = runtime or LazyClient(SERVICE)

    def prepare(self) -> None:
        """Creates the client now, on the calling thread, rather than letting worker threads race to."""
        aws_call(SERVICE, "client", lambda: self._runtime.client)

    def converse(self, request: dict[str, Any]) -> dict[str, Any]:
        """One Converse call (bedrock-runtime API reference, Converse); errors leave as named errors."""
        response: dict[str, Any] = aws_call(SERVICE, "Converse", lambda: self._runtime.client.converse(**request))
        return response
