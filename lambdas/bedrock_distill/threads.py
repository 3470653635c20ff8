"""Worker threads that keep the invocation's context.

A `ThreadPoolExecutor` runs tasks in threads whose `contextvars` are empty, so whatever the invocation
carries in its context (a tracer's segment; the caller identity the offline world gives each function)
would not reach the workers. This executor runs each task in a copy of the submitting thread's context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """`map` submits through `submit`, so it carries the context too."""

    def submit(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_R]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)  # type: ignore[arg-type]
