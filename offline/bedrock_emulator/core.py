"""What every part of the emulated account shares: its surroundings (id, clock, faults, S3, the service role
authority) and Bedrock's conventions for ARNs, tags, list filters and paging.

Nothing here locks: the emulator calls every part under its one lock (see `service`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore.utils import parse_timestamp

from offline.bedrock_emulator.clock import LogicalClock
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.faults import Faults
from offline.bedrock_emulator.service_role import ServiceRoleAuthority

Params = dict[str, Any]
Response = dict[str, Any]
Handler = Callable[[Params, str], Response]
"""Answers one operation: the request's parameters and the caller's Region in, the response out."""

_Item = TypeVar("_Item")


class Account:
    """The emulated account's surroundings, shared by jobs, Provisioned Throughputs, runtime and logging."""

    def __init__(self, account_id: str, clock: LogicalClock, faults: Faults) -> None:
        self.account_id = account_id
        self.clock = clock
        self.faults = faults
        # Set by the offline world to make jobs act as their service role (see `service_role`).
        self.service_role_authority: ServiceRoleAuthority | None = None
        self._s3_clients: dict[str, Any] = {}

    def s3(self, region: str) -> Any:
        if region not in self._s3_clients:
            self._s3_clients[region] = _s3_session().client("s3", region_name=region)
        return self._s3_clients[region]

    def as_bedrock(self) -> AbstractContextManager[None]:
        """Bedrock's own writes (invocation logs and their permission check) are made by the service under the
        log bucket's policy, not by the caller whose request it logs."""
        authority = self.service_role_authority
        return authority.as_service() if authority else nullcontext()

    def acting_as(self, role_arn: str) -> AbstractContextManager[None]:
        """Calls made inside are the service role's, when the offline world supplies an authority."""
        authority = self.service_role_authority
        return authority.acting_as(role_arn) if authority else nullcontext()


@cache
def _s3_session() -> boto3.session.Session:
    # One session for every emulator: a new one reloads botocore's models, a tenth of a second a test.
    # Created at first use, inside moto's mock, so moto's handler is among its built-in handlers.
    return boto3.session.Session()


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def model_id(identifier: str) -> str:
    """The bare model id inside a foundation-model or custom-model ARN, or the identifier itself."""
    if ":custom-model/" in identifier:
        return identifier.split("/")[1]
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


def base_model_arn(identifier: str, region: str) -> str:
    return identifier if identifier.startswith("arn:") else f"arn:aws:bedrock:{region}::foundation-model/{identifier}"


def without_none(response: Response) -> Response:
    return {key: value for key, value in response.items() if value is not None}


def created_between(
    items: Iterable[_Item],
    params: Params,
    created: Callable[[_Item], datetime],
    bounds: tuple[str, str] = ("creationTimeAfter", "creationTimeBefore"),
) -> list[_Item]:
    """Items created strictly between the request's `bounds` (its creationTimeAfter and creationTimeBefore, or
    however the operation names them), sorted by creation time in the request's sortOrder (newest first by
    default)."""
    after, before = params.get(bounds[0]), params.get(bounds[1])
    kept = [
        item
        for item in items
        if (after is None or created(item) > _as_utc(after)) and (before is None or created(item) < _as_utc(before))
    ]
    return sorted(kept, key=created, reverse=params.get("sortOrder", "Descending") == "Descending")


def _as_utc(value: Any) -> datetime:
    moment: datetime = value if isinstance(value, datetime) else parse_timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def page(items: list[Response], params: Params, key: str) -> Response:
    token = params.get("nextToken", "0")
    if not token.isdigit():
        raise BedrockError("ValidationException", f"Invalid nextToken {token}")
    start, size = int(token), params.get("maxResults", 100)
    response: Response = {key: items[start : start + size]}
    if start + size < len(items):
        response["nextToken"] = str(start + size)
    return response
