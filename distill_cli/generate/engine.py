"""The engine of `distill generate-logs`: prompts through the teacher with requestMetadata, so invocation
logs accumulate.

Step 2 of AWS's distillation notebook sends each prompt through Converse one at a time. Here at most
``concurrency`` calls are in flight. Throttling is answered twice over: botocore's adaptive retry mode
(client-side rate limiting, a few attempts) absorbs short bursts, and a ThrottlingException that still
reaches us puts the prompt back in the queue after a jittered exponential backoff while the number of
calls in flight halves (at most once per window of calls) and then grows back by one after each full
window of successes, as TCP's congestion control does. A throttled request was not processed, so
retrying it cannot log a prompt twice.

Each success is recorded in the progress file (see progress.py) before the next result is handled. On
Ctrl-C no new call starts and the calls in flight are waited for and recorded (the first Ctrl-C only
sets a flag, so nothing is ever half-recorded); a second Ctrl-C abandons them.
"""

from __future__ import annotations

import heapq
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final, Protocol

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.calls import TRANSIENT_ERROR_CODES, error_code
from bedrock_distill.workflow.errors import TransientError, WorkflowError
from distill_cli.errors import OperatorError
from distill_cli.generate.progress import ProgressFile
from distill_cli.generate.prompts import Prompt

DEFAULT_MAX_TOKENS: Final = 1000
THROTTLING_CODES: Final = frozenset({"ThrottlingException", "TooManyRequestsException"})
# Transient but not throttling: retried with the same backoff, without shrinking the window.
RETRYABLE_CODES: Final = (frozenset(TRANSIENT_ERROR_CODES) - THROTTLING_CODES) | {"ModelTimeoutException"}
# botocore's own retries for the runtime client: adaptive mode adds client-side rate limiting.
ADAPTIVE_RETRIES: Final[dict[str, Any]] = {"mode": "adaptive", "max_attempts": 3}
_NAP_SECONDS: Final = 0.5


@dataclass(frozen=True)
class GenerateSettings:
    teacher_model_id: str
    request_metadata: Mapping[str, str]
    concurrency: int = 4
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    max_attempts: int = 8
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 20.0

    def request(self, prompt: Prompt) -> dict[str, Any]:
        inference: dict[str, Any] = {"maxTokens": self.max_tokens}
        if self.temperature is not None:
            inference["temperature"] = self.temperature
        request: dict[str, Any] = {
            "modelId": self.teacher_model_id,
            "messages": prompt.messages,
            "inferenceConfig": inference,
            "requestMetadata": dict(self.request_metadata),
        }
        if prompt.system:
            request["system"] = [{"text": prompt.system}]
        return request


@dataclass
class GenerateResult:
    prompts: int
    already_done: int
    succeeded: int = 0
    throttled: int = 0
    retried: int = 0
    smallest_window: int = 0
    elapsed_seconds: float = 0.0
    failure: str | None = None
    interrupted: bool = False
    abandoned: int = 0

    @property
    def remaining(self) -> int:
        return self.prompts - self.already_done - self.succeeded

    @property
    def complete(self) -> bool:
        return self.remaining == 0

    @property
    def prompts_per_second(self) -> float:
        return self.succeeded / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


@contextmanager
def _first_ctrl_c_stops(stop: Callable[[], None]) -> Iterator[None]:
    """The first Ctrl-C (SIGINT) calls `stop` instead of raising, so the run stops between two results
    with nothing half-recorded; a second one raises KeyboardInterrupt as usual. Off the main thread,
    where Python delivers no signals, this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal pressed
        if pressed:
            raise KeyboardInterrupt
        pressed = True
        stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ProgressSink(Protocol):
    def advanced(self, result: GenerateResult, window: int) -> None: ...


class _Quiet:
    def advanced(self, result: GenerateResult, window: int) -> None:
        pass


@dataclass
class _Window:
    """Additive increase, multiplicative decrease of the calls in flight, between 1 and `limit`."""

    limit: int
    size: int = 0
    decreased_at: float = float("-inf")
    successes: int = 0

    def __post_init__(self) -> None:
        self.size = self.limit

    def on_success(self) -> None:
        self.successes += 1
        if self.size < self.limit and self.successes >= self.size:
            self.size += 1
            self.successes = 0

    def on_throttle(self, sent_at: float, now: float) -> None:
        # Calls sent before the last decrease reflect the old window: one burst halves it once.
        if sent_at >= self.decreased_at:
            self.size = max(1, self.size // 2)
            self.decreased_at = now
            self.successes = 0


@dataclass
class _Call:
    prompt: Prompt
    attempts: int
    sent_at: float


@dataclass
class _Generator:
    gateway: BedrockRuntimeGateway
    settings: GenerateSettings
    progress: ProgressFile
    sink: ProgressSink
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    rng: random.Random
    result: GenerateResult
    window: _Window = field(init=False)
    in_flight: dict[Future[dict[str, Any]], _Call] = field(default_factory=dict)
    retries: list[tuple[float, int, _Call]] = field(default_factory=list)
    stopping: bool = False
    _sequence: int = 0

    def __post_init__(self) -> None:
        self.window = _Window(self.settings.concurrency)
        self.result.smallest_window = self.window.size

    def run(self, pending: Iterator[Prompt]) -> None:
        started = self.clock()
        pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="converse")
        try:
            with _first_ctrl_c_stops(self._interrupted):
                self._loop(pool, pending)
        finally:
            # Only a second Ctrl-C leaves calls in flight: they are abandoned, unrecorded.
            self.result.abandoned = len(self.in_flight)
            pool.shutdown(wait=not self.in_flight, cancel_futures=True)
            self.result.elapsed_seconds = self.clock() - started

    def _interrupted(self) -> None:
        self.result.interrupted = True
        self.stopping = True

    def _loop(self, pool: ThreadPoolExecutor, pending: Iterator[Prompt]) -> None:
        exhausted = False
        while True:
            now = self.clock()
            while not self.stopping and len(self.in_flight) < self.window.size:
                # A retry that is due goes before new prompts, so backed-off prompts are not starved; a
                # prompt backing off keeps its place in the window, so backing off lowers the rate.
                if self.retries and self.retries[0][0] <= now:
                    call = heapq.heappop(self.retries)[2]
                elif not exhausted and len(self.in_flight) + len(self.retries) < self.window.size:
                    prompt = next(pending, None)
                    if prompt is None:
                        exhausted = True
                        continue
                    call = _Call(prompt, 0, now)
                else:
                    break
                call.sent_at = self.clock()
                future = pool.submit(self.gateway.converse, self.settings.request(call.prompt))
                self.in_flight[future] = call
            if not self.in_flight:
                if self.stopping or (exhausted and not self.retries):
                    return
                if self.retries:
                    # In short naps, so that a Ctrl-C during a long backoff stops the run promptly.
                    self.sleep(min(_NAP_SECONDS, max(0.0, self.retries[0][0] - self.clock())))
                continue
            timeout = None
            if self.retries and len(self.in_flight) < self.window.size:
                timeout = max(0.0, self.retries[0][0] - self.clock())
            finished, _ = wait(self.in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                self._settle(future, self.in_flight.pop(future))

    def _settle(self, future: Future[dict[str, Any]], call: _Call) -> None:
        error = future.exception()
        if error is None:
            self._succeeded(call, future.result())
            return
        code = error_code(error)
        if code in THROTTLING_CODES:
            self.result.throttled += 1
            self.window.on_throttle(call.sent_at, self.clock())
            self.result.smallest_window = min(self.result.smallest_window, self.window.size)
            self._retry(call, code)
        elif code in RETRYABLE_CODES or isinstance(error, TransientError) or _is_connection_error(error):
            self.result.retried += 1
            self._retry(call, code or type(error).__name__)
        else:
            self._fail(call, f"{code or type(error).__name__}: {_message(error)}")

    def _succeeded(self, call: _Call, response: dict[str, Any]) -> None:
        self.progress.record(call.prompt, response.get("ResponseMetadata", {}).get("RequestId"))
        self.result.succeeded += 1
        self.window.on_success()
        self.sink.advanced(self.result, self.window.size)

    def _retry(self, call: _Call, reason: str) -> None:
        call.attempts += 1
        if call.attempts >= self.settings.max_attempts:
            self._fail(call, f"{reason} on {call.attempts} attempts in a row")
            return
        ceiling = min(
            self.settings.max_backoff_seconds, self.settings.initial_backoff_seconds * 2 ** (call.attempts - 1)
        )
        self._sequence += 1
        heapq.heappush(self.retries, (self.clock() + self.rng.uniform(0, ceiling), self._sequence, call))
        self.sink.advanced(self.result, self.window.size)

    def _fail(self, call: _Call, reason: str) -> None:
        if self.result.failure is None:
            self.result.failure = f"prompt on line {call.prompt.line}: {reason}"
        self.stopping = True


def generate_logs(
    prompts: Iterable[Prompt],
    *,
    total: int,
    done: set[tuple[int, str]],
    gateway: BedrockRuntimeGateway,
    settings: GenerateSettings,
    progress: ProgressFile,
    sink: ProgressSink | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> GenerateResult:
    """Sends every prompt whose key is not in ``done`` through Converse (see the module docstring).

    ``total`` is the number of prompts in the file, for the result's counts; len(prompt_keys(...)) gives it.
    """
    if settings.concurrency < 1:
        raise OperatorError("--concurrency must be at least 1")
    result = GenerateResult(prompts=total, already_done=len(done))
    gateway.prepare()
    generator = _Generator(
        gateway=gateway,
        settings=settings,
        progress=progress,
        sink=sink or _Quiet(),
        clock=clock,
        sleep=sleep,
        rng=rng or random.Random(),  # noqa: S311 - jitter, not cryptography
        result=result,
    )
    generator.run(prompt for prompt in prompts if prompt.key not in done)
    return result


def _is_connection_error(error: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotocoreConnectionError  # noqa: PLC0415
    from botocore.exceptions import HTTPClientError  # noqa: PLC0415

    return isinstance(error, BotocoreConnectionError | HTTPClientError)


def _message(error: BaseException) -> str:
    if isinstance(error, WorkflowError):
        return error.reason or str(error)
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Message") or error)
