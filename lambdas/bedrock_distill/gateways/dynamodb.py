"""Amazon DynamoDB: items of string and number attributes, put and taken by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bedrock_distill.gateways.calls import aws_call
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "dynamodb"
Item = Mapping[str, str | int]


class DynamoDBGateway:
    def __init__(self, table_name: str, dynamodb: LazyClient | None = None) -> None:
        self._table_name = table_name
        self._dynamodb = dynamodb or LazyClient(SERVICE)

    def put(self, item: Item) -> None:
        self._call("PutItem", "put_item", Item={name: _attribute(value) for name, value in item.items()})

    def take(self, key_name: str, key_value: str) -> dict[str, str] | None:
        """Deletes the item and returns its attributes as text; None if there was none (or another took it)."""
        response = self._call("DeleteItem", "delete_item", Key={key_name: {"S": key_value}}, ReturnValues="ALL_OLD")
        item: dict[str, dict[str, str]] = response.get("Attributes") or {}
        if not item:
            return None
        return {name: next(iter(value.values())) for name, value in item.items()}

    def _call(self, operation: str, method: str, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = aws_call(
            SERVICE, operation, lambda: getattr(self._dynamodb.client, method)(TableName=self._table_name, **request)
        )
        return response


def _attribute(value: str | int) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}
