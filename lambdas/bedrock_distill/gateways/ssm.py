"""AWS Systems Manager Parameter Store: one String parameter read, written once, deleted."""

from __future__ import annotations

from typing import Final

from bedrock_distill.gateways.calls import aws_call, aws_call_unless
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "ssm"
NOT_FOUND: Final = "ParameterNotFound"


class SsmGateway:
    def __init__(self, ssm: LazyClient | None = None) -> None:
        self._ssm = ssm or LazyClient(SERVICE)

    def get(self, name: str) -> str | None:
        response = aws_call_unless(
            {NOT_FOUND}, SERVICE, "GetParameter", lambda: self._ssm.client.get_parameter(Name=name)
        )
        return str(response["Parameter"]["Value"]) if response is not None else None

    def create(self, name: str, value: str, description: str) -> None:
        """Creates the parameter; an existing one is an error (Overwrite=False), never replaced."""
        aws_call(
            SERVICE,
            "PutParameter",
            lambda: self._ssm.client.put_parameter(
                Name=name, Type="String", Value=value, Description=description, Overwrite=False
            ),
        )

    def delete(self, name: str) -> None:
        """Deletes the parameter; one already gone counts as done."""
        aws_call_unless({NOT_FOUND}, SERVICE, "DeleteParameter", lambda: self._ssm.client.delete_parameter(Name=name))
