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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

UNCATCHABLE = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}

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


_PATCHES: dict[tuple[type, str], Callable[..., Any]] = {
    (ErrorEqualsDecl, "_eval_body"): _error_equals_as_aws,
    (StateTaskLambda, "_from_error"): _lambda_error_as_aws,
    (Environment, "set_stop"): _set_stop_as_aws,
    (Environment, "set_error"): _set_error_as_aws,
}


def activate() -> None:
    """Idempotent: one interpreter per process, patched while a pipeline is deployed."""
    for (owner, name), replacement in _PATCHES.items():
        if (owner, name) not in _originals:
            _originals[(owner, name)] = getattr(owner, name)
            setattr(owner, name, replacement)


def deactivate() -> None:
    for (owner, name), original in list(_originals.items()):
        setattr(owner, name, original)
        del _originals[(owner, name)]
