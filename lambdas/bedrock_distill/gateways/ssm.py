"""AWS Systems Manager Parameter Store: one String parameter read, written once, deleted."""

from __future__ import annotations

from typing import Final

from bedrock_distill.gateways.calls import aws_call
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.workflow.errors import WorkflowError

SERVICE: Final = "ssm"
NOT_FOUND: Final = "ParameterNotFound"


class SsmGateway:
    def __init__(self, ssm: LazyClient | None = None) -> None:
        self._ssm = ssm or LazyClient(SERVICE)

    def get(self, name: str) -> str | None:
        try:
            response = aws_call(SERVICE, "GetParameter", lambda: self._ssm.client.get_parameter(Name=name))
        except WorkflowError as error:
            if error.code == NOT_FOUND:
                return None
            raise
        return str(response["Parameter"]["Value"])

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
        try:
            aws_call(SERVICE, "DeleteParameter", lambda: self._ssm.client.delete_parameter(Name=name))
        except WorkflowError as error:
            if error.code != NOT_FOUND:
                raise
