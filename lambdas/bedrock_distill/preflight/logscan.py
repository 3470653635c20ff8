"""Counts what a distillation job would get from Bedrock invocation logs, before any job exists.

Walks a log tree in Bedrock's layout (``.../AWSLogs/<account>/BedrockModelInvocationLogs/<region>/
YYYY/MM/DD/HH/*.json.gz``, one JSON record per line), locally or in S3, applies the
requestMetadataFilters as Bedrock would, and sorts every matching record into usable or excluded with
one reason. Files are read by a small thread pool: zlib releases the GIL while inflating and S3 reads
wait on the network, so reading overlaps parsing. Each file is streamed; memory stays bounded.

The scan's fence: a record's body pointer (``inputBodyS3Path`` / ``outputBodyS3Path``) is followed only to
an ``s3://`` object inside the scanned location (its bucket and key prefix, or, for a local copy, its
directory), never to a local path, another bucket or another prefix; and every object read is size-capped
(ScanLimits), so a hostile log tree costs at most the caps in memory and time.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson

from bedrock_distill.catalog import requires_single_turn
from bedrock_distill.gateways.s3 import S3Gateway, S3Location, is_s3_uri
from bedrock_distill.preflight.dataset_rules import MAX_RECORDS, MIN_VALID_RECORDS
from bedrock_distill.preflight.filters import MetadataPredicate, check_filter, compile_filter
from bedrock_distill.preflight.problems import (
    DEFAULT_KEPT_PROBLEMS,
    WHOLE_FILE,
    Problem,
    ProblemCallback,
    ProblemLog,
    Severity,
)
from bedrock_distill.preflight.sources import (
    OversizeLine,
    SourceError,
    iter_lines,
    list_locations,
    open_stream,
    paused_garbage_collection,
    read_capped_chunks,
)
from bedrock_distill.preflight.verdict import Verdict
from bedrock_distill.threads import ContextThreadPoolExecutor

# Bedrock moves bodies over ~100 KB to separate objects (bedrock-facts.md, third-party; the user guide's
# "Monitor model invocation using CloudWatch Logs and Amazon S3" says large and binary data go to S3), so a
# real record line is a few hundred KB. The cap stops a newline-free file (zeros, a gzip bomb) from being
# buffered: a line is read whole before it is measured, so each worker holds up to about twice this.
MAX_LOG_LINE_BYTES: Final = 16 << 20
# A log file is streamed, so this caps time, not memory: /dev/zero or a gzip bomb ends here. AWS does not
# document how large one delivered file is; each holds a batch of record lines as above, and the files seen
# in practice are kilobytes to a few megabytes, so 256 MiB decompressed is a wide margin.
MAX_LOG_FILE_BYTES: Final = 256 << 20
# A body object is read whole to be parsed, so this caps memory per worker. A logged body is the request or
# response body, and InvokeModel takes and returns at most 25,000,000 bytes (botocore service model
# bedrock-runtime, InvokeModel `body` max); 32 MiB leaves room for re-encoding as JSON. Applies to the object
# as stored and decompressed.
MAX_BODY_BYTES: Final = 32 << 20
# How much of a hostile pointer a problem quotes.
_POINTER_SHOWN = 200
_BODY_SUFFIXES = ("_input.json.gz", "_output.json.gz", "_input.json", "_output.json")
_LOG_SUFFIXES = (".json.gz", ".json")
_FILES_IN_FLIGHT_PER_WORKER = 2
_T = TypeVar("_T")
_R = TypeVar("_R")


class Exclusion(StrEnum):
    """Why a record that matches the filter would not be used. Each record gets the first that applies."""

    UNPARSEABLE = "unparseable"  # not JSON, or not an invocation log record
    ERROR_RECORD = "error_record"  # the invocation failed (errorCode)
    MODEL_MISMATCH = "model_mismatch"  # prompt-response pairs must come from exactly the teacher
    BODY_UNAVAILABLE = "body_unavailable"  # an inputBodyS3Path/outputBodyS3Path that cannot be read
    UNSUPPORTED_BODY = "unsupported_body"  # a body with no messages, prompt or inputText
    NON_TEXT_CONTENT = "non_text_content"  # images, documents, tool use, ...
    MULTI_TURN = "multi_turn"  # more than one user turn for a single-turn student family
    EMPTY_PROMPT = "empty_prompt"  # no non-blank user text
    MISSING_OUTPUT = "missing_output"  # no response text, when prompt-response pairs are used


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """The sizes a scan reads at most; the defaults are the module's caps, documented beside them."""

    line_bytes: int = MAX_LOG_LINE_BYTES
    file_bytes: int = MAX_LOG_FILE_BYTES
    body_bytes: int = MAX_BODY_BYTES


DEFAULT_SCAN_LIMITS: Final = ScanLimits()


class _PointerOutsideLogLocationError(SourceError):
    """A body pointer that leads outside the scanned location: refused, never read."""


@dataclass
class InvocationVolume:
    """The teacher's invocations among the records a run would train on, as the log records count them
    (`input.inputTokenCount`, `output.outputTokenCount`, `timestamp`: user guide, "Monitor model invocation
    using CloudWatch Logs and Amazon S3", log record fields). Records without a count add to `invocations` only."""

    invocations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    def add(self, record: Mapping[str, Any]) -> None:
        self.invocations += 1
        self.input_tokens += _count(record.get("input"), "inputTokenCount")
        self.output_tokens += _count(record.get("output"), "outputTokenCount")
        timestamp = record.get("timestamp")
        if isinstance(timestamp, str) and timestamp:
            self.add_timestamp(timestamp)

    def merge(self, other: InvocationVolume) -> None:
        self.invocations += other.invocations
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        for timestamp in (other.first_timestamp, other.last_timestamp):
            if timestamp is not None:
                self.add_timestamp(timestamp)

    def add_timestamp(self, timestamp: str) -> None:
        # ISO 8601 in UTC, as Bedrock writes it: text order is time order.
        if self.first_timestamp is None or timestamp < self.first_timestamp:
            self.first_timestamp = timestamp
        if self.last_timestamp is None or timestamp > self.last_timestamp:
            self.last_timestamp = timestamp

    def to_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "firstTimestamp": self.first_timestamp,
            "lastTimestamp": self.last_timestamp,
        }


def _count(part: object, key: str) -> int:
    value = part.get(key) if isinstance(part, dict) else None
    # bool is an int to Python, never a token count.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass(frozen=True)
class ScanReport(Verdict):
    source: str
    teacher_model_id: str | None
    use_prompt_response: bool
    metadata_filter: Mapping[str, Any] | None
    files_read: int
    files_skipped: int
    files_unreadable: int
    records: int
    records_matching_filter: int
    records_not_matching_filter: int
    usable_prompts: int
    usable_prompt_response_pairs: int
    excluded: dict[str, int]
    errors: int
    warnings: int
    verdict_reasons: list[str]
    problems: list[Problem] = field(repr=False)
    problems_truncated: bool = False
    # The teacher's traffic in the matching records: what the scorecard prices a switch to the student at.
    volume: InvocationVolume = field(default_factory=InvocationVolume)

    @property
    def used(self) -> int:
        """How many records the job would train on."""
        return self.usable_prompt_response_pairs if self.use_prompt_response else self.usable_prompts

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "teacher_model_id": self.teacher_model_id,
            "use_prompt_response": self.use_prompt_response,
            "filter": self.metadata_filter,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "files_unreadable": self.files_unreadable,
            "records": self.records,
            "records_matching_filter": self.records_matching_filter,
            "records_not_matching_filter": self.records_not_matching_filter,
            "usable_prompts": self.usable_prompts,
            "usable_prompt_response_pairs": self.usable_prompt_response_pairs,
            "used": self.used,
            "excluded": self.excluded,
            "volume": self.volume.to_dict(),
            **self.verdict_fields(),
        }


@dataclass
class _Tally:
    """What one file contributed. Built in a worker thread, merged on the main thread."""

    records: int = 0
    matching: int = 0
    usable_prompts: int = 0
    usable_pairs: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    unreadable: bool = False
    problems: list[Problem] = field(default_factory=list)
    unkept: Counter[Severity] = field(default_factory=Counter)
    volume: InvocationVolume = field(default_factory=InvocationVolume)


def scan_logs(
    source: str,
    metadata_filter: Mapping[str, Any] | None = None,
    teacher_model_id: str | None = None,
    use_prompt_response: bool = False,
    *,
    s3: S3Gateway | None = None,
    on_problem: ProblemCallback | None = None,
    keep_problems: int = DEFAULT_KEPT_PROBLEMS,
    workers: int | None = None,
    repeats_shown: int | None = None,
    limits: ScanLimits = DEFAULT_SCAN_LIMITS,
) -> ScanReport:
    """Scans a local directory, a single log file or an ``s3://bucket/prefix``.

    With ``repeats_shown``, a problem repeated on many lines of a file is passed on for that many lines,
    then once as a summary (the counts keep every repeat). ``limits`` caps what is read (see ScanLimits).

    Raises ValueError for an invalid filter or prompt-response pairs without a teacher, and
    SourceError when the source itself cannot be listed.
    """
    if use_prompt_response and not teacher_model_id:
        raise ValueError("prompt-response pairs must come from exactly the teacher: give teacher_model_id")
    if metadata_filter is not None and (violations := check_filter(metadata_filter)):
        raise ValueError("invalid filter: " + "; ".join(violation.render() for violation in violations))
    gateway = s3 or S3Gateway()
    classifier = _RecordClassifier(
        source=source,
        predicate=compile_filter(metadata_filter) if metadata_filter is not None else None,
        teacher_model_id=teacher_model_id,
        use_prompt_response=use_prompt_response,
        s3=gateway,
        keep_problems=keep_problems,
        limits=limits,
    )
    log = ProblemLog(on_problem, keep_problems, repeats_shown=repeats_shown)
    files_read = files_skipped = files_unreadable = 0
    totals = _Tally()
    log_files = _only_log_files(list_locations(source, gateway))
    pool_size = workers or (8 if is_s3_uri(source) else max(2, os.cpu_count() or 1))
    with paused_garbage_collection():
        for _, tally in _map_in_order(classifier.scan_file, log_files, pool_size):
            if tally is None:
                files_skipped += 1
                continue
            files_read += 1
            files_unreadable += tally.unreadable
            _merge(totals, tally, log)
    log.finish()

    kind = "prompt-response pairs" if use_prompt_response else "prompts"
    used = totals.usable_pairs if use_prompt_response else totals.usable_prompts
    verdict_reasons = []
    if files_unreadable:
        verdict_reasons.append(f"{files_unreadable} unreadable files")
    if used < MIN_VALID_RECORDS:
        reason = (
            f"fewer than {MIN_VALID_RECORDS} usable {kind} match ({used:,}); "
            f"distillation needs at least {MIN_VALID_RECORDS}"
        )
        verdict_reasons.append(reason)
        log.add(Problem(source, WHOLE_FILE, "(source)", reason))
    if used > MAX_RECORDS:
        reason = (
            f"more than {MAX_RECORDS:,} usable {kind} would be used ({used:,}); "
            f"Bedrock takes at most {MAX_RECORDS:,}: narrow the filter"
        )
        verdict_reasons.append(reason)
        log.add(Problem(source, WHOLE_FILE, "(source)", reason))

    matching_or_unknown = totals.matching + totals.excluded[Exclusion.UNPARSEABLE]
    return ScanReport(
        source=source,
        teacher_model_id=teacher_model_id,
        use_prompt_response=use_prompt_response,
        metadata_filter=metadata_filter,
        files_read=files_read,
        files_skipped=files_skipped,
        files_unreadable=files_unreadable,
        records=totals.records,
        records_matching_filter=totals.matching,
        records_not_matching_filter=totals.records - matching_or_unknown,
        usable_prompts=totals.usable_prompts,
        usable_prompt_response_pairs=totals.usable_pairs,
        excluded={reason.value: totals.excluded[reason] for reason in Exclusion},
        errors=log.errors,
        warnings=log.warnings,
        verdict_reasons=verdict_reasons,
        problems=log.kept,
        problems_truncated=log.truncated,
        volume=totals.volume,
    )


def _merge(totals: _Tally, tally: _Tally, log: ProblemLog) -> None:
    totals.records += tally.records
    totals.matching += tally.matching
    totals.usable_prompts += tally.usable_prompts
    totals.usable_pairs += tally.usable_pairs
    totals.excluded.update(tally.excluded)
    totals.volume.merge(tally.volume)
    for problem in tally.problems:
        log.add(problem)
    for severity, count in tally.unkept.items():
        log.count_unkept(severity, count)


def _only_log_files(locations: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """Each location with whether it is an invocation log (pointer bodies and other objects are not)."""
    for location in locations:
        name = location.rsplit("/", 1)[-1]
        yield location, name.endswith(_LOG_SUFFIXES) and not name.endswith(_BODY_SUFFIXES)


def _map_in_order(function: Callable[[_T], _R], items: Iterable[_T], workers: int) -> Iterator[tuple[_T, _R]]:
    """Like ThreadPoolExecutor.map, but submits lazily so a million files never sit in memory at once."""
    with ContextThreadPoolExecutor(max_workers=workers, thread_name_prefix="logscan") as pool:
        in_flight: deque[tuple[_T, Any]] = deque()
        for item in items:
            in_flight.append((item, pool.submit(function, item)))
            if len(in_flight) >= workers * _FILES_IN_FLIGHT_PER_WORKER:
                first, future = in_flight.popleft()
                yield first, future.result()
        while in_flight:
            first, future = in_flight.popleft()
            yield first, future.result()


class _RecordClassifier:
    def __init__(
        self,
        *,
        source: str,
        predicate: MetadataPredicate | None,
        teacher_model_id: str | None,
        use_prompt_response: bool,
        s3: S3Gateway,
        keep_problems: int,
        limits: ScanLimits,
    ) -> None:
        self._source = source
        self._limits = limits
        self._predicate = predicate
        self._teacher = teacher_model_id
        self._use_prompt_response = use_prompt_response
        self._s3 = s3
        self._keep_problems = keep_problems
        # Without a teacher we cannot know the student family, so assume the stricter single-turn rule.
        self._single_turn_only = teacher_model_id is None or requires_single_turn(teacher_model_id)

    def scan_file(self, candidate: tuple[str, bool]) -> _Tally | None:
        location, is_log = candidate
        if not is_log:
            return None
        tally = _Tally()
        try:
            with open_stream(location, self._s3, gunzip=True, max_bytes=self._limits.file_bytes) as stream:
                self._scan_lines(location, iter_lines(stream, self._limits.line_bytes), tally)
        except SourceError as error:
            tally.unreadable = True
            self._problem(tally, Problem(location, WHOLE_FILE, "(file)", str(error)))
        return tally

    def _scan_lines(self, location: str, lines: Iterable[bytes | OversizeLine], tally: _Tally) -> None:
        seen_content = False
        for line_number, line in enumerate(lines, start=1):
            if isinstance(line, OversizeLine):
                tally.records += 1
                self._exclude_unparseable(tally, location, line_number, f"line of {line.length:,} bytes is too long")
                continue
            if not line or line.isspace():
                continue
            if not seen_content and line.strip() == b"{":
                # A single pretty-printed record: the rest of the file belongs to it.
                tally.records += 1
                record_bytes = _rest_as_bytes(line, lines, self._limits.line_bytes)
                self._classify_raw(b"".join(record_bytes), tally, location, line_number)
                return
            seen_content = True
            tally.records += 1
            self._classify_raw(line, tally, location, line_number)

    def _classify_raw(self, raw: bytes, tally: _Tally, location: str, line_number: int) -> None:
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            self._exclude_unparseable(tally, location, line_number, f"not valid JSON: {error}")
            return
        if not isinstance(record, dict) or not isinstance(record.get("input"), dict):
            self._exclude_unparseable(tally, location, line_number, "not an invocation log record (no input object)")
            return
        metadata = record.get("requestMetadata") or {}
        if not isinstance(metadata, dict):
            self._exclude_unparseable(tally, location, line_number, "requestMetadata is not an object")
            return
        if self._predicate is not None and not self._predicate(metadata):
            return
        tally.matching += 1
        if not record.get("errorCode") and (self._teacher is None or record.get("modelId") == self._teacher):
            tally.volume.add(record)
        reason = self._exclusion(record, tally, location, line_number)
        if reason is not None:
            tally.excluded[reason] += 1

    def _exclusion(self, record: dict[str, Any], tally: _Tally, location: str, line_number: int) -> Exclusion | None:
        """Counts the record as usable, or returns why the job would not use it."""
        if record.get("errorCode"):
            return Exclusion.ERROR_RECORD
        is_teacher = self._teacher is None or record.get("modelId") == self._teacher
        if self._use_prompt_response and not is_teacher:
            return Exclusion.MODEL_MISMATCH
        body, reason = self._body(record["input"], "inputBodyJson", "inputBodyS3Path", tally, location, line_number)
        reason = reason or self._prompt_exclusion(body)
        if reason is not None:
            return reason
        tally.usable_prompts += 1
        return self._response_exclusion(record, is_teacher, tally, location, line_number)

    def _response_exclusion(
        self, record: dict[str, Any], is_teacher: bool, tally: _Tally, location: str, line_number: int
    ) -> Exclusion | None:
        """Counts a usable prompt as a pair too when its response is usable; in prompt-response mode,
        returns why it is not."""
        output = record.get("output")
        response, unavailable = None, None
        if isinstance(output, dict):
            response, unavailable = self._body(
                output, "outputBodyJson", "outputBodyS3Path", tally, location, line_number
            )
        if is_teacher and _has_response_text(response):
            tally.usable_pairs += 1
            return None
        if not self._use_prompt_response:
            return None
        return Exclusion.BODY_UNAVAILABLE if unavailable is Exclusion.BODY_UNAVAILABLE else Exclusion.MISSING_OUTPUT

    def _prompt_exclusion(self, body: Any) -> Exclusion | None:
        if not isinstance(body, dict):
            return Exclusion.UNSUPPORTED_BODY
        if "messages" in body:
            return self._messages_exclusion(body)
        for native in ("prompt", "inputText"):  # Llama/Mistral, Titan Text
            if native in body:
                text = body[native]
                if not isinstance(text, str):
                    return Exclusion.UNSUPPORTED_BODY
                return None if _is_non_blank(text) else Exclusion.EMPTY_PROMPT
        return Exclusion.UNSUPPORTED_BODY

    def _messages_exclusion(self, body: dict[str, Any]) -> Exclusion | None:
        messages = body["messages"]
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return Exclusion.UNSUPPORTED_BODY
        system = body.get("system")
        turns = [(message.get("role"), message.get("content")) for message in messages]
        if system is not None:
            turns.append(("system", system))
        has_user_text = False
        for role, content in turns:
            blocks = [{"text": content}] if isinstance(content, str) else content
            if not isinstance(blocks, list):
                return Exclusion.UNSUPPORTED_BODY
            texts = [_block_text(block) for block in blocks]
            if None in texts:
                return Exclusion.NON_TEXT_CONTENT
            if role == "user":
                has_user_text = has_user_text or any(_is_non_blank(text) for text in texts if text is not None)
        user_turns = sum(role == "user" for role, _ in turns)
        if user_turns > 1 and self._single_turn_only:
            return Exclusion.MULTI_TURN
        # A system prompt alone is not a prompt: the user turn is what the teacher answers.
        return None if has_user_text else Exclusion.EMPTY_PROMPT

    def _body(  # noqa: PLR0917 - a private helper called twice with the same shape
        self,
        holder: dict[str, Any],
        inline_field: str,
        pointer_field: str,
        tally: _Tally,
        location: str,
        line_number: int,
    ) -> tuple[Any, Exclusion | None]:
        """The inline body or the body behind the S3 pointer; or None and why there is none."""
        if inline_field in holder:
            return holder[inline_field], None
        pointer = holder.get(pointer_field)
        if not isinstance(pointer, str):
            return None, Exclusion.UNSUPPORTED_BODY
        resolved = pointer
        try:
            resolved = self._resolve_pointer(pointer, location)
            raw = b"".join(read_capped_chunks(resolved, self._limits.body_bytes, self._s3, gunzip=True))
            return orjson.loads(raw), None
        except _PointerOutsideLogLocationError as error:
            self._problem(tally, Problem(location, line_number, pointer_field, str(error), Severity.WARNING))
            return None, Exclusion.BODY_UNAVAILABLE
        except (SourceError, orjson.JSONDecodeError) as error:
            # A read error already names what was read; a parse error or a local lookup does not.
            reason = str(error) if str(error).startswith(resolved) else f"{_shown(pointer)}: {error}"
            self._problem(tally, Problem(location, line_number, pointer_field, reason, Severity.WARNING))
            return None, Exclusion.BODY_UNAVAILABLE

    def _resolve_pointer(self, pointer: str, location: str) -> str:
        """Where to read a pointer body; a pointer outside the scanned location is refused, never read.

        Bedrock writes pointers as ``s3://`` URIs in the log bucket, so anything else (a local path, a
        ``file:`` URI), another bucket or prefix, or ``.``/``..`` segments are refused. A local copy of a
        log tree (``aws s3 sync``) keeps the key layout from ``AWSLogs/`` down, so the body is looked up
        under the same ancestor as the log file, and must resolve (symlinks followed) inside the copy."""
        outside = _PointerOutsideLogLocationError(f"outside the log location {self._fence_name()}: {_shown(pointer)}")
        if not is_s3_uri(pointer):
            raise outside
        try:
            target = S3Location.parse(pointer)
        except ValueError:
            raise outside from None
        if any(segment in {".", ".."} for segment in target.key.split("/")):
            raise outside
        if is_s3_uri(self._source):
            fence = _s3_prefix(self._source)
            if target.bucket != fence.bucket or not target.key.startswith(fence.key):
                raise outside
            return pointer
        return self._local_copy_of(target, location, outside)

    def _local_copy_of(self, target: S3Location, location: str, outside: _PointerOutsideLogLocationError) -> str:
        root = os.path.realpath(self._local_root())
        candidates = []
        marker = "AWSLogs/"
        if marker in target.key:
            tail = target.key[target.key.index(marker) :]
            parts = Path(location).parts
            if "AWSLogs" in parts:
                candidates.append(Path(*parts[: parts.index("AWSLogs")], tail))
            candidates.append(Path(root, tail))
        candidates += [Path(root, target.key), Path(root, target.bucket, target.key)]
        led_outside = False
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if os.path.commonpath([root, real]) != root:
                led_outside = led_outside or os.path.lexists(candidate)
                continue
            if os.path.isfile(real):
                return real
        if led_outside:
            raise outside
        raise SourceError(f"not found locally under {self._source}")

    def _local_root(self) -> str:
        return self._source if os.path.isdir(self._source) else os.path.dirname(self._source) or "."

    def _fence_name(self) -> str:
        if is_s3_uri(self._source):
            return _s3_prefix(self._source).uri
        return os.path.join(self._local_root(), "")

    def _exclude_unparseable(self, tally: _Tally, location: str, line_number: int, reason: str) -> None:
        tally.excluded[Exclusion.UNPARSEABLE] += 1
        self._problem(tally, Problem(location, line_number, "$", reason, Severity.WARNING))

    def _problem(self, tally: _Tally, problem: Problem) -> None:
        if len(tally.problems) < self._keep_problems:
            tally.problems.append(problem)
        else:
            tally.unkept[problem.severity] += 1


def _rest_as_bytes(first: bytes, lines: Iterable[bytes | OversizeLine], max_bytes: int) -> Iterator[bytes]:
    yield first
    total = len(first)
    for line in lines:
        if isinstance(line, OversizeLine):
            raise SourceError(f"a pretty-printed record has a line of {line.length:,} bytes")
        total += len(line)
        if total > max_bytes:
            raise SourceError(f"a pretty-printed record is over {max_bytes:,} bytes")
        yield line


def _s3_prefix(uri: str) -> S3Location:
    """The scanned location as a bucket and a key prefix ending in ``/`` (or empty): the same objects
    list_locations walks, so ``s3://b/logs`` does not also admit ``s3://b/logs-other/``."""
    location = S3Location.parse(uri)
    if location.key and not location.key.endswith("/"):
        return S3Location(location.bucket, f"{location.key}/")
    return location


def _shown(pointer: str) -> str:
    """A pointer as a problem quotes it: a hostile one may be megabytes long."""
    return pointer if len(pointer) <= _POINTER_SHOWN else f"{pointer[:_POINTER_SHOWN]}... ({len(pointer):,} chars)"


def _block_text(block: object) -> str | None:
    """The text of a Converse ({"text"}) or Anthropic ({"type": "text", "text"}) block; None otherwise."""
    if isinstance(block, dict) and block.get("type", "text") == "text":
        text = block.get("text")
        if isinstance(text, str):
            return text
    return None


def _is_non_blank(text: str) -> bool:
    return bool(text) and not text.isspace()


def _has_response_text(body: Any) -> bool:
    """Whether a response body holds non-blank text, in any of the shapes Bedrock logs."""
    if isinstance(body, list):  # streamed responses are logged as their chunks
        return any(_has_response_text(chunk) for chunk in body)
    if not isinstance(body, dict):
        return False
    output = body.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    # Converse and Nova put the blocks under output.message; Anthropic's native API at the top level.
    content = message.get("content") if isinstance(message, dict) else body.get("content")
    if isinstance(content, list) and any(_is_non_blank(_block_text(block) or "") for block in content):
        return True
    for native in ("generation", "outputText", "completion"):  # Llama/Mistral, Titan, Anthropic text
        text = body.get(native)
        if isinstance(text, str) and _is_non_blank(text):
            return True
    stream_event = body.get("contentBlockDelta")  # a ConverseStream chunk
    delta = stream_event.get("delta") if isinstance(stream_event, dict) else body.get("delta")
    if isinstance(delta, dict) and isinstance(delta.get("text"), str) and _is_non_blank(delta["text"]):
        return True
    results = body.get("results")
    return isinstance(results, list) and any(_has_response_text(result) for result in results)
