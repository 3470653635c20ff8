"""`distill generate-logs`: prompts through the teacher with requestMetadata, so invocation logs accumulate.

Step 2 of AWS's distillation notebook sends each prompt through Converse one at a time. Here at most
``concurrency`` calls are in flight. Throttling is answered twice over: botocore's adaptive retry mode
(client-side rate limiting, a few attempts) absorbs short bursts, and a ThrottlingException that still
reaches us puts the prompt back in the queue after a jittered exponential backoff while the number of
calls in flight halves (at most once per window of calls) and then grows back by one after each full
window of successes, as TCP's congestion control does. A throttled request was not processed, so
retrying it cannot log a prompt twice.

Every prompt that succeeds is appended to a progress file (its line number and the SHA-256 of the
line) and flushed before the next result is handled. A rerun skips what the file lists, so a run
stopped by Ctrl-C, a fatal error or a crash resumes without calling Converse again for a prompt that
already reached the logs. On Ctrl-C no new call starts and the calls in flight are waited for and
recorded (the first Ctrl-C only sets a flag, so nothing is ever half-recorded); a second Ctrl-C
abandons them.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final, Literal, Protocol

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.calls import TRANSIENT_ERROR_CODES, error_code
from bedrock_distill.preflight import Problem, Severity, check_filter, validate_dataset
from bedrock_distill.preflight.problems import WHOLE_FILE
from bedrock_distill.preflight.sources import SourceError
from bedrock_distill.workflow.errors import TransientError, WorkflowError
from distill_cli.errors import OperatorError

PromptFormat = Literal["jsonl", "text"]
JSONL_SUFFIXES: Final = (".jsonl", ".json")
DEFAULT_MAX_TOKENS: Final = 1000
MAX_METADATA_PAIRS: Final = 16
THROTTLING_CODES: Final = frozenset({"ThrottlingException", "TooManyRequestsException"})
# Transient but not throttling: retried with the same backoff, without shrinking the window.
RETRYABLE_CODES: Final = (frozenset(TRANSIENT_ERROR_CODES) - THROTTLING_CODES) | {"ModelTimeoutException"}
PROGRESS_KIND: Final = "bedrock-distill generate-logs progress"
# botocore's own retries for the runtime client: adaptive mode adds client-side rate limiting.
ADAPTIVE_RETRIES: Final[dict[str, Any]] = {"mode": "adaptive", "max_attempts": 3}
_NAP_SECONDS: Final = 0.5


@dataclass(frozen=True)
class Prompt:
    """One prompt, identified by its line in the file and the digest of that line."""

    line: int
    digest: str
    messages: list[dict[str, Any]]
    system: str | None = None

    @property
    def key(self) -> tuple[int, str]:
        return self.line, self.digest


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


# Prompts ------------------------------------------------------------------------------------------------


def prompt_format(path: str, requested: str = "auto") -> PromptFormat:
    if requested == "jsonl":
        return "jsonl"
    if requested == "text":
        return "text"
    return "jsonl" if path.lower().endswith(JSONL_SUFFIXES) else "text"


def check_prompts(path: str, fmt: PromptFormat, on_problem: Callable[[Problem], None]) -> int:
    """The number of invalid records in a JSONL prompts file, by the preflight validator's errors (minus the
    whole-file counts a training set needs); text files need no check beyond UTF-8, which reading them checks."""
    if fmt == "text":
        return 0
    invalid_lines: set[int] = set()

    def keep(problem: Problem) -> None:
        if problem.line == WHOLE_FILE:
            return
        if problem.severity is Severity.ERROR:
            invalid_lines.add(problem.line)
        on_problem(problem)

    validate_dataset(path, on_problem=keep)
    return len(invalid_lines)


def read_prompts(path: str, fmt: PromptFormat, system: str | None = None) -> Iterator[Prompt]:
    """The prompts of a file, in order. Blank lines are skipped but counted, so line numbers match the file.

    text: one prompt per line, sent as a single user turn (``system`` as the system prompt).
    jsonl: bedrock-conversation-2024 records; the turns up to the last user turn are sent, a trailing
    assistant turn (a golden answer) is not, and the record's system prompt wins over ``system``.
    """
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                body = raw.rstrip(b"\r\n")
                if not body.strip():
                    continue
                digest = hashlib.sha256(body).hexdigest()
                try:
                    yield _prompt(number, digest, body, fmt, system)
                except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as error:
                    raise SourceError(f"{path}:{number}: not a {fmt} prompt: {error}") from error
    except OSError as error:
        raise SourceError(f"{path}: {error.strerror or error}") from error


def _prompt(number: int, digest: str, body: bytes, fmt: PromptFormat, system: str | None) -> Prompt:
    if fmt == "text":
        return Prompt(number, digest, [{"role": "user", "content": [{"text": body.decode("utf-8")}]}], system)
    record = json.loads(body)
    messages = record["messages"]
    last_user = max(index for index, message in enumerate(messages) if message["role"] == "user")
    record_system = record.get("system") or []
    return Prompt(number, digest, messages[: last_user + 1], record_system[0]["text"] if record_system else system)


def check_metadata(pairs: Mapping[str, str]) -> list[str]:
    """Why this requestMetadata would not make logs a distillation filter can select; empty when fine.

    Converse accepts '#' and ',' too, but requestMetadataFilters do not: metadata that no filter can
    match would produce logs no job can use, so the filter's rules (the preflight checker) apply.
    """
    if not pairs:
        return ["give at least one --metadata KEY=VALUE: it is what a distillation filter selects these logs by"]
    problems = []
    if len(pairs) > MAX_METADATA_PAIRS:
        problems.append(f"{len(pairs)} metadata pairs; Converse accepts at most {MAX_METADATA_PAIRS}")
    for key, value in pairs.items():
        problems += [
            f"--metadata {key}={value}: {violation.reason}" for violation in check_filter({"equals": {key: value}})
        ]
    return problems


def parse_metadata(arguments: Iterable[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for argument in arguments:
        key, separator, value = argument.partition("=")
        if not separator:
            raise OperatorError(f"--metadata {argument!r}: expected KEY=VALUE")
        if key in pairs:
            raise OperatorError(f"--metadata {key}: given twice")
        pairs[key] = value
    return pairs


# The progress file --------------------------------------------------------------------------------------


class ProgressFile:
    """Append-only: a header naming the teacher and metadata, then one JSON line per prompt sent."""

    def __init__(self, path: Path, teacher_model_id: str, request_metadata: Mapping[str, str]) -> None:
        self.path = path
        self._header = {
            "kind": PROGRESS_KIND,
            "version": 1,
            "teacherModelId": teacher_model_id,
            "requestMetadata": dict(sorted(request_metadata.items())),
        }
        self._handle: IO[str] | None = None

    def open(self) -> set[tuple[int, str]]:
        """Opens for appending; the prompts already sent. Raises OperatorError for another run's file."""
        done: set[tuple[int, str]] = set()
        needs_newline = False
        if self.path.exists() and self.path.stat().st_size > 0:
            text = self.path.read_text(encoding="utf-8")
            lines = text.splitlines()
            header = _json_line(lines[0])
            if header is None or header.get("kind") != PROGRESS_KIND:
                raise OperatorError(f"{self.path} is not a generate-logs progress file; pass another --progress-file")
            if {key: header.get(key) for key in ("teacherModelId", "requestMetadata")} != {
                key: self._header[key] for key in ("teacherModelId", "requestMetadata")
            }:
                raise OperatorError(
                    f"{self.path} records a run with teacher {header.get('teacherModelId')} and metadata "
                    f"{header.get('requestMetadata')}; this run differs: pass another --progress-file, "
                    "or delete it to start over"
                )
            for number, line in enumerate(lines[1:], start=2):
                entry = _json_line(line)
                if entry is None:
                    if number == len(lines):  # a write cut short by a crash: that prompt was not recorded
                        continue
                    raise OperatorError(f"{self.path}:{number}: not a progress record; fix or delete the file")
                done.add((int(entry["line"]), str(entry["sha256"])))
            needs_newline = not text.endswith("\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if needs_newline:
            self._handle.write("\n")
        if not done and self.path.stat().st_size == 0:
            self._write(self._header)
        return done

    def record(self, prompt: Prompt, request_id: str | None) -> None:
        entry: dict[str, Any] = {"line": prompt.line, "sha256": prompt.digest}
        if request_id:
            entry["requestId"] = request_id
        self._write(entry)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, document: Mapping[str, Any]) -> None:
        assert self._handle is not None, "open() first"
        self._handle.write(json.dumps(document) + "\n")
        self._handle.flush()


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        document = json.loads(line)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def default_progress_path(prompts_path: str) -> Path:
    return Path(f"{prompts_path}.progress")


# Converse -----------------------------------------------------------------------------------------------


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

    ``total`` is the number of prompts in the file, for the result's counts; count_prompts gives it.
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


def prompt_keys(prompts: Iterable[Prompt]) -> set[tuple[int, str]]:
    """The identity of every prompt in the file. A progress entry for a line since edited matches none
    of them: it is not counted as done, and the edited prompt is sent."""
    return {prompt.key for prompt in prompts}


def _is_connection_error(error: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotocoreConnectionError  # noqa: PLC0415
    from botocore.exceptions import HTTPClientError  # noqa: PLC0415

    return isinstance(error, BotocoreConnectionError | HTTPClientError)


def _message(error: BaseException) -> str:
    if isinstance(error, WorkflowError):
        return error.reason or str(error)
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Message") or error)
