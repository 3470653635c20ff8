"""What the offline world's botocore handlers share.

botocore calls the handlers in BUILTIN_HANDLERS from every client created after they were registered, at import,
so what a handler serves (the in-process functions, the IAM enforcer) is set on a module-level slot; and a
`before-call` handler sees the serialized request, so the call's own parameters are kept for it at
`before-parameter-build`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")


class ActiveSlot(Generic[_T]):
    """The one object a module's handlers serve while it is active; None otherwise."""

    def __init__(self) -> None:
        self.value: _T | None = None

    def activate(self, value: _T) -> None:
        self.value = value

    def deactivate(self) -> None:
        self.value = None


def params_keeper(key: str) -> Callable[..., None]:
    """A `before-parameter-build` handler that keeps the call's parameters in its context under `key`."""

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[key] = params

    return keep
