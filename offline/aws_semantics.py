"""Where moto's Step Functions interpreter differs from AWS in a way our guarantees depend on, made to
behave like AWS while the offline pipeline is deployed.

AWS: "A Retrier or Catcher with States.ALL does not match States.Runtime or States.DataLimitExceeded"
(Step Functions developer guide, error names); an execution hitting one of them fails at once, past every
Catch. moto's States.ALL matches them, which would let the workflow's own cleanup hide exactly the failures
that only the out-of-band cleanup can handle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType

UNCATCHABLE = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}

_original: Callable[[ErrorEqualsDecl, Any], None] | None = None


def _eval_body_as_aws(self: ErrorEqualsDecl, env: Any) -> None:
    error_name = env.stack[-1]
    if isinstance(error_name, StatesErrorName) and error_name.typ in UNCATCHABLE:
        env.stack.pop()
        # Only an explicit name matches; the States.ALL wildcard does not.
        env.stack.append(error_name in self.error_names)
        return
    assert _original is not None
    _original(self, env)


def activate() -> None:
    global _original  # noqa: PLW0603 - one interpreter per process, patched while the pipeline is deployed
    if _original is None:
        _original = ErrorEqualsDecl._eval_body
        ErrorEqualsDecl._eval_body = _eval_body_as_aws  # type: ignore[method-assign]


def deactivate() -> None:
    global _original  # noqa: PLW0603
    if _original is not None:
        ErrorEqualsDecl._eval_body = _original  # type: ignore[method-assign,assignment]
        _original = None
