"""Where moto's Step Functions interpreter differs from AWS in ways our guarantees depend on, made to behave
like AWS while the offline pipeline is deployed. Each patch names the AWS behaviour it restores.

1. "A Retrier or Catcher with States.ALL does not match States.Runtime or States.DataLimitExceeded"
   (Step Functions developer guide, error names): such an execution fails at once, past every Catch. moto's
   States.ALL matches them, which would let the workflow's own cleanup hide exactly the failures that only
   the out-of-band cleanup can handle.
2. A Lambda task whose Parameters name a path that is not in its input fails with States.Runtime; moto
   reports it as a task error named "Exception".
3. StopExecution ends an execution at once, whatever state it is in, as ABORTED. moto's stop does not wake a
   task waiting for its token (the execution stays RUNNING until the task's timeout), and the woken task's
   error then overwrites ABORTED with FAILED.

moto offers no public extension point for any of these (its Step Functions configuration is one switch,
`execute_state_machine`), so they replace methods of its private interpreter classes. `activate` first checks
that every method replaced, and every internal a replacement relies on, is still there with the signature
written here (moto 5.2.5's); on a moto that changed them it raises MotoInternalsChangedError naming the patch,
instead of running a pipeline that silently behaves like moto. tests/unit/offline/test_aws_semantics.py
pins both the AWS behaviour and these checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto


class MotoInternalsChangedError(RuntimeError):
    """moto no longer has what a patch here replaces or relies on: re-check that patch against the new moto."""


try:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, CallbackPoolManager
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    UNCATCHABLE = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}
except (ImportError, AttributeError) as missing:
    raise MotoInternalsChangedError(
        f"offline/aws_semantics.py patches moto's Step Functions interpreter (States.ALL vs States.Runtime, "
        f"Lambda Parameters path errors, StopExecution), and moto {moto.__version__} no longer has what they "
        f"use: {missing}"
    ) from missing

_originals: dict[tuple[type, str], Callable[..., Any]] = {}


def _original(owner: type, name: str) -> Callable[..., Any]:
    return _originals[(owner, name)]


def _error_equals_as_aws(self: ErrorEqualsDecl, env: Any) -> None:
    error_name = env.stack[-1]
    if isinstance(error_name, StatesErrorName) and error_name.typ in UNCATCHABLE:
        env.stack.pop()
        # Only an explicit name matches; the States.ALL wildcard does not.
        env.stack.append(error_name in self.error_names)
        return
    _original(ErrorEqualsDecl, "_eval_body")(self, env)


def _lambda_error_as_aws(self: StateTaskLambda, env: Environment, ex: Exception) -> Any:
    if isinstance(ex, NoSuchJsonPathError):
        return ExecutionState._from_error(self, env, ex)  # States.Runtime, with the path in the cause
    return _original(StateTaskLambda, "_from_error")(self, env, ex)


def _set_stop_as_aws(self: Environment, *args: Any, **kwargs: Any) -> None:
    _original(Environment, "set_stop")(self, *args, **kwargs)
    # Wake every task waiting for a token: it sees the stopped program and ends.
    for endpoint in list(self.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


def _set_error_as_aws(self: Environment, *args: Any, **kwargs: Any) -> None:
    if isinstance(self.program_state(), ProgramStopped):
        return
    _original(Environment, "set_error")(self, *args, **kwargs)


def _error_names_kept() -> str | None:
    return None if hasattr(ErrorEqualsDecl([]), "error_names") else "ErrorEqualsDecl keeps no error_names"


def _callback_pool_kept() -> str | None:
    pool = getattr(CallbackPoolManager(activity_store={}), "_pool", None)
    return None if isinstance(pool, dict) else "CallbackPoolManager keeps no _pool of endpoints by id"


@dataclass(frozen=True)
class Patch:
    """`owner.name` (taking `parameters`) replaced by `replacement` to restore `behaviour`. The replacement also
    calls each of `calls` (with the parameters given) and reads what `reads` checks on a fresh moto object."""

    behaviour: str
    owner: type
    name: str
    parameters: tuple[str, ...]
    replacement: Callable[..., Any]
    calls: tuple[tuple[Callable[..., Any], tuple[str, ...]], ...] = ()
    reads: Callable[[], str | None] | None = None

    def problem(self) -> str | None:
        """What moto no longer has that this patch needs, or None."""
        defined = self.owner.__dict__.get(self.name)
        if defined is None:
            return f"{self.owner.__qualname__} no longer defines {self.name}"
        replaced = _originals.get((self.owner, self.name), defined)
        for target, expected in ((replaced, self.parameters), *self.calls):
            actual = tuple(inspect.signature(target).parameters)
            if actual != expected:
                return f"{target.__qualname__} takes {actual}; the patch was written for {expected}"
        return self.reads() if self.reads else None


PATCHES = (
    Patch(
        "States.ALL does not catch States.Runtime or States.DataLimitExceeded",
        ErrorEqualsDecl,
        "_eval_body",
        ("self", "env"),
        _error_equals_as_aws,
        reads=_error_names_kept,
    ),
    Patch(
        "a Lambda task's missing Parameters path fails with States.Runtime",
        StateTaskLambda,
        "_from_error",
        ("self", "env", "ex"),
        _lambda_error_as_aws,
        calls=((ExecutionState._from_error, ("self", "env", "ex")),),
    ),
    Patch(
        "StopExecution wakes a task waiting for its token",
        Environment,
        "set_stop",
        ("self", "stop_date", "cause", "error"),
        _set_stop_as_aws,
        calls=((CallbackEndpoint.interrupt_all, ("self",)),),
        reads=_callback_pool_kept,
    ),
    Patch(
        "a stopped execution stays ABORTED when its woken task fails",
        Environment,
        "set_error",
        ("self", "error"),
        _set_error_as_aws,
        calls=((Environment.program_state, ("self",)),),
    ),
)


def verify_moto_internals() -> None:
    """Raises MotoInternalsChangedError, naming each patch whose moto internals changed."""
    problems = [f"'{patch.behaviour}': {problem}" for patch in PATCHES if (problem := patch.problem())]
    if problems:
        raise MotoInternalsChangedError(
            f"offline/aws_semantics.py cannot make moto {moto.__version__}'s Step Functions behave like AWS; "
            "re-check these patches against its interpreter: " + "; ".join(problems)
        )


def activate() -> None:
    """Idempotent: one interpreter per process, patched while a pipeline is deployed."""
    verify_moto_internals()
    for patch in PATCHES:
        if (patch.owner, patch.name) not in _originals:
            _originals[(patch.owner, patch.name)] = getattr(patch.owner, patch.name)
            setattr(patch.owner, patch.name, patch.replacement)


def deactivate() -> None:
    for (owner, name), original in list(_originals.items()):
        setattr(owner, name, original)
        del _originals[(owner, name)]
