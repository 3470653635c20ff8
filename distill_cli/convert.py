"""``distill convert``: prompt/completion JSONL, OpenAI chat-format JSONL or CSV to ``bedrock-conversation-2024``.

Every input record is either written as one Bedrock record or refused with ``FILE:LINE: field: reason``;
nothing is dropped without a line saying so. Each converted record goes through the validator's own
``RecordChecker`` before it is written, so a record Bedrock would reject (a control character, a
multi-turn record for a single-turn student, ...) is refused with its input line and field instead of
being written; the whole output is then validated exactly as ``distill validate`` does, for what only
the whole file shows (the 100-record minimum, duplicate prompts).

It streams: one record at a time in, one line at a time out (local files through a temporary file
renamed at the end, ``s3://`` objects through a multipart upload), so memory does not grow with the
input. Data-only: it reaches AWS only for ``s3://`` locations.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Final, NamedTuple

import orjson

from bedrock_distill.gateways.s3 import CHUNK_BYTES, S3Gateway, S3Location, is_s3_uri
from bedrock_distill.preflight.dataset import (
    MAX_RECORD_BYTES,
    RECORD_SIZE_REASON,
    SCHEMA_VERSION,
    DatasetReport,
    RecordChecker,
    json_type,
    sized,
    validate_dataset,
)
from bedrock_distill.preflight.problems import (
    DEFAULT_KEPT_PROBLEMS,
    Problem,
    ProblemCallback,
    ProblemLog,
    Severity,
)
from bedrock_distill.preflight.sources import OversizeLine, SourceError, iter_lines, open_stream
from bedrock_distill.preflight.strict_json import MAX_DEPTH, read_json

# An input line may spell text with \uXXXX escapes (6 bytes for a 3-byte UTF-8 character), so a line up
# to twice the record limit may still convert to a record under it; anything longer cannot.
MAX_INPUT_LINE_BYTES: Final = 2 * MAX_RECORD_BYTES
DEFAULT_PROMPT_COLUMN: Final = "prompt"
DEFAULT_COMPLETION_COLUMN: Final = "completion"
# Input fields that are not carried over get one warning each; past this many distinct names a file
# is not in the expected format anyway, and remembering more would make memory grow with the input.
_UNUSED_FIELD_WARNINGS_LIMIT: Final = 50
_BOM = b"\xef\xbb\xbf"
_OPENAI_ROLES = ("system", "user", "assistant")
# Message fields that carry tool use: a record holding them cannot be expressed as text turns.
_OPENAI_TOOL_FIELDS = frozenset({"tool_calls", "function_call", "tool_call_id"})
_OPENAI_MESSAGE_FIELDS = frozenset({"role", "content"})
_PROMPT_COMPLETION_FIELDS = frozenset({"prompt", "completion"})
# A repeated key must end with a quote, optional whitespace and a colon, so fewer matches than keys
# parsed proves no key repeated (a quote-colon inside a string only adds matches).
_KEY_TERMINATOR = re.compile(rb'"[ \t\r\n]*:')
_MESSAGE_PATH = re.compile(r"^messages\[(\d+)\]")


class InputFormat(StrEnum):
    PROMPT_COMPLETION = "prompt-completion"
    OPENAI_CHAT = "openai-chat"
    CSV = "csv"


class ConvertUsageError(Exception):
    """The conversion cannot start: a bad option, a missing CSV column, an output that is the input (exit 2)."""


@dataclass(frozen=True)
class ConvertOptions:
    input_format: InputFormat
    system: str | None = None
    prompt_column: str | None = None  # CSV only; default "prompt"
    completion_column: str | None = None  # CSV only; default "completion" when the header has it
    student_model_id: str | None = None


@dataclass(frozen=True)
class ConversionReport:
    source: str
    output: str
    input_format: InputFormat
    records: int
    written: int
    refused: int
    blank_lines: int
    errors: int
    warnings: int
    problems: list[Problem] = field(repr=False)
    problems_truncated: bool
    validation: DatasetReport

    @property
    def is_valid(self) -> bool:
        return self.refused == 0 and self.errors == 0 and self.validation.is_valid

    @property
    def verdict(self) -> str:
        return "valid" if self.is_valid else "invalid"

    @property
    def verdict_reasons(self) -> list[str]:
        reasons = [f"{self.refused:,} records refused"] if self.refused else []
        if not self.validation.is_valid:
            reasons.append(f"the output is invalid ({'; '.join(self.validation.verdict_reasons)})")
        return reasons

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "format": self.input_format.value,
            "records": self.records,
            "written": self.written,
            "refused": self.refused,
            "blank_lines": self.blank_lines,
            "errors": self.errors,
            "warnings": self.warnings,
            "problems": [problem.to_dict() for problem in self.problems],
            "problems_truncated": self.problems_truncated,
            "validation": self.validation.to_dict(),
            "verdict": self.verdict,
            "verdict_reasons": self.verdict_reasons,
        }


def default_output(source: str) -> str:
    """``data.jsonl`` (or ``.csv``, ``.jsonl.gz``) -> ``data.bedrock.jsonl`` beside it, locally or in S3."""
    if is_s3_uri(source):
        location = S3Location.parse(source)
        return S3Location(location.bucket, _bedrock_name(location.key)).uri
    directory, name = os.path.split(source)
    return os.path.join(directory, _bedrock_name(name))


def _bedrock_name(path: str) -> str:
    pure = PurePosixPath(path)
    stem = pure.name.removesuffix(".gz")
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    return str(pure.with_name(f"{stem}.bedrock.jsonl")) if pure.name else f"{path}converted.bedrock.jsonl"


def convert_dataset(
    source: str,
    output: str | None,
    options: ConvertOptions,
    *,
    s3: S3Gateway | None = None,
    on_problem: ProblemCallback | None = None,
    on_validation_problem: ProblemCallback | None = None,
    keep_problems: int = DEFAULT_KEPT_PROBLEMS,
    repeats_shown: int | None = None,
) -> ConversionReport:
    """Converts ``source`` into ``output`` (default: ``default_output(source)``), then validates the output.

    Raises ConvertUsageError for options that cannot work and SourceError when the input cannot be read
    or the output cannot be written; a partly written local output is removed. With ``repeats_shown``, a
    refusal repeated on many lines (a file converted with the wrong ``--from``) is shown that many times,
    then once as a summary; the counts keep every repeat.
    """
    target = output or default_output(source)
    _check_options(source, target, options)
    gateway = s3 or (S3Gateway() if is_s3_uri(source) or is_s3_uri(target) else None)
    log = ProblemLog(on_problem, keep_problems, repeats_shown=repeats_shown)
    converter = _Converter(source, options, log)
    _write_lines(target, converter.lines(gateway), gateway)
    log.finish()
    validation = validate_dataset(
        target, options.student_model_id, s3=gateway, on_problem=on_validation_problem, repeats_shown=repeats_shown
    )
    return ConversionReport(
        source=source,
        output=target,
        input_format=options.input_format,
        records=converter.records,
        written=converter.written,
        refused=converter.refused,
        blank_lines=converter.blank_lines,
        errors=log.errors,
        warnings=log.warnings,
        problems=log.kept,
        problems_truncated=log.truncated,
        validation=validation,
    )


def _check_options(source: str, target: str, options: ConvertOptions) -> None:
    if target == source:
        raise ConvertUsageError(f"--output {target}: is the input; write the converted records elsewhere")
    if options.input_format is not InputFormat.CSV and (options.prompt_column or options.completion_column):
        raise ConvertUsageError("--prompt-column and --completion-column apply to --from csv only")
    if options.system is not None:
        # The validator's own check, so --system fails once here instead of refusing every record.
        probe = _Conversation(options.system, "--system", (("a prompt", "$"),), "$")
        issues, _ = RecordChecker().check_line(probe.to_line())
        for field_path, reason, severity in issues:
            if severity is Severity.ERROR and field_path.startswith("system"):
                raise ConvertUsageError(f"--system: {reason}")


# --- Writing ---------------------------------------------------------------------------------------------


def _write_lines(target: str, lines: Iterable[bytes], s3: S3Gateway | None) -> None:
    if is_s3_uri(target):
        assert s3 is not None  # convert_dataset creates one for any s3:// location
        location = _s3_location(target, "--output")
        with _s3_write_errors(target):
            s3.upload_chunks(location, _batched(lines))
        return
    # A temporary file renamed at the end: an interrupted or failed run never leaves a partial dataset
    # under the name a later `distill start` would pick up.
    partial = f"{target}.partial"
    try:
        with open(partial, "wb", buffering=CHUNK_BYTES) as handle:
            for line in lines:
                handle.write(line)
        os.replace(partial, target)
    except OSError as exc:
        _remove_quietly(partial)
        raise SourceError(f"{target}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove_quietly(partial)
        raise


def _batched(lines: Iterable[bytes]) -> Iterator[bytes]:
    """About a mebibyte at a time, so the upload sees few large writes instead of one per record."""
    batch = bytearray()
    for line in lines:
        batch += line
        if len(batch) >= CHUNK_BYTES:
            yield bytes(batch)
            batch.clear()
    if batch:
        yield bytes(batch)


def _remove_quietly(path: str) -> None:
    with suppress(FileNotFoundError):
        os.remove(path)


def _s3_location(uri: str, option: str) -> S3Location:
    try:
        location = S3Location.parse(uri)
    except ValueError as exc:
        raise ConvertUsageError(f"{option} {uri}: not an s3://bucket/key URI") from exc
    if not location.key or location.key.endswith("/"):
        raise ConvertUsageError(f"{option} {uri}: names a prefix; give the object key to write")
    return location


@contextmanager
def _s3_write_errors(uri: str) -> Iterator[None]:
    from boto3.exceptions import S3UploadFailedError  # noqa: PLC0415 - boto3 only once S3 is used
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        yield
    except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
        raise SourceError(f"{uri}: cannot write: {exc}") from exc


# --- Reading and converting ------------------------------------------------------------------------------


class _Conversation(NamedTuple):
    """One converted record, and for each of its parts the input field it came from, so a problem the
    validator finds in the output names what to fix in the input."""

    system: str | None
    system_origin: str
    turns: tuple[tuple[str, str], ...]  # (text, input field); roles alternate from user
    messages_origin: str

    def to_line(self) -> bytes:
        record: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION}
        if self.system is not None:
            record["system"] = [{"text": self.system}]
        record["messages"] = [
            {"role": "user" if index % 2 == 0 else "assistant", "content": [{"text": text}]}
            for index, (text, _) in enumerate(self.turns)
        ]
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)

    def origin(self, output_field: str) -> str:
        """The input field behind a field of the converted record (``messages[1].content[0].text`` ->
        ``completion``)."""
        if output_field.startswith("system"):
            return self.system_origin
        match = _MESSAGE_PATH.match(output_field)
        if match and int(match.group(1)) < len(self.turns):
            return self.turns[int(match.group(1))][1]
        return self.messages_origin if output_field == "messages" else "$"


Issue = tuple[str, str]  # (input field, reason): why one record cannot be converted
Converted = _Conversation | list[Issue]


class _Converter:
    """Reads the input in its format and yields the output's lines, logging each refusal and warning."""

    def __init__(self, source: str, options: ConvertOptions, log: ProblemLog) -> None:
        self._source = source
        self._options = options
        self._log = log
        self._checker = RecordChecker(options.student_model_id)
        self._unused_fields: set[str] = set()
        self.records = self.written = self.refused = self.blank_lines = 0

    def lines(self, s3: S3Gateway | None) -> Iterator[bytes]:
        with open_stream(self._source, s3, gunzip=True) as stream:
            if self._options.input_format is InputFormat.CSV:
                converted = self._csv_records(stream)
            else:
                converted = self._jsonl_records(stream)
            for line_number, result in converted:
                self.records += 1
                if isinstance(result, list):
                    self._refuse(line_number, result)
                    continue
                line = self._checked_line(line_number, result)
                if line is not None:
                    self.written += 1
                    yield line

    def _checked_line(self, line_number: int, conversation: _Conversation) -> bytes | None:
        """The record's JSONL line, or None when the validator would reject it (then it is refused)."""
        try:
            line = conversation.to_line()
        except orjson.JSONEncodeError as error:  # a lone surrogate: not valid Unicode, so not valid JSON
            self._refuse(line_number, [("$", f"cannot be written as JSON: {error}")])
            return None
        if len(line) - 1 > MAX_RECORD_BYTES:
            self._refuse(line_number, [("$", f"the converted record is {len(line) - 1:,} bytes; {RECORD_SIZE_REASON}")])
            return None
        issues, _ = self._checker.check_line(line)
        errors = [
            (conversation.origin(field_path), reason)
            for field_path, reason, severity in issues
            if severity is Severity.ERROR
        ]
        if errors:
            self._refuse(line_number, errors)
            return None
        return line

    def _refuse(self, line_number: int, issues: list[Issue]) -> None:
        self.refused += 1
        for field_path, reason in issues:
            self._log.add(Problem(self._source, line_number, field_path, reason))

    def _warn_unused(self, line_number: int, field_path: str, what: str) -> None:
        """One warning per field name that is not carried over: silent for no field, loud for none twice."""
        if field_path in self._unused_fields or len(self._unused_fields) >= _UNUSED_FIELD_WARNINGS_LIMIT:
            return
        self._unused_fields.add(field_path)
        reason = f"{what} not carried over (bedrock-conversation-2024 has no place for it); first seen here"
        self._log.add(Problem(self._source, line_number, field_path, reason, Severity.WARNING))

    # --- JSONL ---

    def _jsonl_records(self, stream: BinaryIO) -> Iterator[tuple[int, Converted]]:
        convert: Callable[[int, dict[str, Any]], Converted] = (
            self._from_prompt_completion
            if self._options.input_format is InputFormat.PROMPT_COMPLETION
            else self._from_openai_chat
        )
        for line_number, line in enumerate(iter_lines(stream, MAX_INPUT_LINE_BYTES), start=1):
            if isinstance(line, OversizeLine):
                yield line_number, [("$", f"line is {line.length:,} bytes; {RECORD_SIZE_REASON}")]
                continue
            if not line or line.isspace():
                self.blank_lines += 1
                continue
            # A byte order mark is an encoding marker some editors write, not data.
            document = _parse_json(line[len(_BOM) :] if line_number == 1 and line.startswith(_BOM) else line)
            if isinstance(document, list):
                yield line_number, document
            elif not isinstance(document.value, dict):
                yield line_number, [("$", f"record must be a JSON object, got {json_type(document.value)}")]
            else:
                yield line_number, convert(line_number, document.value)

    def _from_prompt_completion(self, line_number: int, record: dict[str, Any]) -> Converted:
        issues: list[Issue] = []
        prompt = _text(record, "prompt", issues, required=True)
        completion = _text(record, "completion", issues, required=False)
        for name in record:
            if name not in _PROMPT_COMPLETION_FIELDS:
                self._warn_unused(line_number, _member(name), "field")
        if issues or prompt is None:
            return issues
        turns = ((prompt, "prompt"),) if completion is None else ((prompt, "prompt"), (completion, "completion"))
        return _Conversation(self._options.system, "--system", turns, "$")

    def _from_openai_chat(self, line_number: int, record: dict[str, Any]) -> Converted:
        for name in record:
            if name != "messages":
                self._warn_unused(line_number, _member(name), "field")
        if "messages" not in record:
            return [("messages", "missing; an OpenAI chat record holds a list of messages")]
        messages = record["messages"]
        if not isinstance(messages, list) or not messages:
            return [("messages", f"must be a non-empty list of messages, got {sized(messages)}")]
        chat = _ChatTurns()
        for index, message in enumerate(messages):
            chat.add(index, message)
            for name in chat.unused_fields(message):
                self._warn_unused(line_number, f"messages[].{name}", "message field")
        if not chat.issues and not chat.turns:
            chat.issues.append(("messages", "no user message; a record needs at least one"))
        if chat.issues:
            return chat.issues
        if chat.system is None:
            return _Conversation(self._options.system, "--system", tuple(chat.turns), "messages")
        return _Conversation(chat.system, chat.system_origin, tuple(chat.turns), "messages")

    # --- CSV ---

    def _csv_records(self, stream: BinaryIO) -> Iterator[tuple[int, Converted]]:
        # utf-8-sig: spreadsheets often start CSV files with a byte order mark.
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        rows = csv.reader(text, strict=True)
        with _csv_errors(self._source, rows), _csv_field_limit(MAX_INPUT_LINE_BYTES):
            header = next(rows, None)
            if header is None:
                raise ConvertUsageError(
                    f"{self._source}: empty file; a CSV file starts with a header row of column names"
                )
            columns = _CsvColumns.from_header(self._source, header, self._options)
            unused = [name for position, name in enumerate(header) if position not in columns.positions]
            if unused:
                names = ", ".join(repr(name) for name in unused)
                reason = f"columns not carried over: {names} (only the prompt and completion columns are converted)"
                self._log.add(Problem(self._source, 1, "(header)", reason, Severity.WARNING))
            last_line = rows.line_num
            for row in rows:
                line_number, last_line = last_line + 1, rows.line_num
                if not row:
                    self.blank_lines += 1
                    continue
                yield line_number, self._from_csv_row(row, len(header), columns)

    def _from_csv_row(self, row: list[str], width: int, columns: _CsvColumns) -> Converted:
        if len(row) != width:
            return [("$", f"{len(row)} fields, but the header has {width} columns (a stray comma or quote?)")]
        issues: list[Issue] = []
        prompt = _blank_checked(row[columns.prompt], columns.prompt_name, issues)
        completion = None
        if columns.completion is not None:
            completion = _blank_checked(row[columns.completion], columns.completion_name, issues)
        if issues or prompt is None:
            return issues
        turns = [(prompt, columns.prompt_name)]
        if completion is not None:
            turns.append((completion, columns.completion_name))
        return _Conversation(self._options.system, "--system", tuple(turns), "$")


class _ChatTurns:
    """One OpenAI chat record's messages as Bedrock needs them: at most one system message, first, then
    turns alternating from user. Each message that breaks the shape is an issue naming its index."""

    def __init__(self) -> None:
        self.system: str | None = None
        self.system_origin = ""
        self.turns: list[tuple[str, str]] = []
        self.issues: list[Issue] = []

    def add(self, index: int, message: object) -> None:
        here = f"messages[{index}]"
        if not isinstance(message, dict):
            self.issues.append((here, f"must be an object with role and content, got {json_type(message)}"))
            return
        role = message.get("role")
        tool_fields = sorted(_OPENAI_TOOL_FIELDS & message.keys())
        if role not in _OPENAI_ROLES or tool_fields:
            self.issues.append(_unconvertible_role(here, message, role, tool_fields))
            return
        text = _openai_text(message, here, self.issues)
        if role == "system":
            self._add_system(here, text)
            return
        expected = "user" if len(self.turns) % 2 == 0 else "assistant"
        if role != expected:
            previous = "assistant" if expected == "user" else "user"
            after = f"after {previous!r}" if self.turns else "first"
            reason = f"turns must alternate starting with user: expected {expected!r} {after}, got {role!r}"
            self.issues.append((f"{here}.role", reason))
        self.turns.append((text or "", f"{here}.content"))

    def _add_system(self, here: str, text: str | None) -> None:
        if self.system_origin:
            reason = f"a second system message (the first is {self.system_origin}); Bedrock takes one system prompt"
            self.issues.append((f"{here}.role", reason))
        elif self.turns:
            self.issues.append((f"{here}.role", "the system message must come before the first user message"))
        self.system, self.system_origin = text, f"{here}.content"

    @staticmethod
    def unused_fields(message: object) -> list[str]:
        if not isinstance(message, dict):
            return []
        return [name for name in message if name not in _OPENAI_MESSAGE_FIELDS and name not in _OPENAI_TOOL_FIELDS]


@dataclass(frozen=True)
class _CsvColumns:
    prompt: int
    prompt_name: str
    completion: int | None
    completion_name: str
    positions: frozenset[int]

    @classmethod
    def from_header(cls, source: str, header: list[str], options: ConvertOptions) -> _CsvColumns:
        prompt_name = options.prompt_column or DEFAULT_PROMPT_COLUMN
        completion_name = options.completion_column or DEFAULT_COMPLETION_COLUMN
        prompt = _column(source, header, prompt_name, "--prompt-column")
        completion = None
        if options.completion_column is not None or completion_name in header:
            completion = _column(source, header, completion_name, "--completion-column")
        if completion == prompt:
            raise ConvertUsageError("--prompt-column and --completion-column name the same column")
        positions = frozenset(position for position in (prompt, completion) if position is not None)
        return cls(prompt, prompt_name, completion, completion_name, positions)


def _column(source: str, header: list[str], name: str, option: str) -> int:
    found = [position for position, column in enumerate(header) if column == name]
    columns = ", ".join(repr(column) for column in header)
    if not found:
        raise ConvertUsageError(f"{source}:1: (header): no column {name!r} (columns: {columns}); pass {option} NAME")
    if len(found) > 1:
        raise ConvertUsageError(f"{source}:1: (header): column {name!r} appears {len(found)} times; rename one")
    return found[0]


@contextmanager
def _csv_errors(source: str, rows: Any) -> Iterator[None]:
    """A CSV syntax error or undecodable text leaves the reader without a way to resume: stop with one
    line naming where, instead of guessing where the next record starts."""
    try:
        yield
    except csv.Error as exc:
        raise SourceError(f"{source}:{rows.line_num}: not valid CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{source}:{rows.line_num + 1}: not UTF-8 text ({exc.reason}); save the file as UTF-8"
        ) from exc


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """The csv module's 128 KiB default would refuse long prompts; a bound still keeps one field from
    filling memory. The limit is process-wide, so it is put back afterwards."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


# --- Fields --------------------------------------------------------------------------------------------


class _Parsed(NamedTuple):
    value: object


def _parse_json(line: bytes) -> _Parsed | list[Issue]:
    """The parsed line, or why it is not JSON. orjson reads it; the project's strict reader (strict_json.py)
    re-reads a line that may repeat a key (orjson keeps the last value and says nothing, which would drop the
    other silently) or may nest deeper than the reader's limit, and refuses it with each problem's path."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return [("$", f"not valid JSON: {error}")]
    # Checked first: with at most MAX_DEPTH brackets, _count_keys' recursion is that shallow too.
    may_be_deep = line.count(b"[") + line.count(b"{") > MAX_DEPTH
    if may_be_deep or len(_KEY_TERMINATOR.findall(line)) > _count_keys(value):
        problems = read_json(line).problems
        if problems:
            return [(problem.field, problem.reason) for problem in problems]
    return _Parsed(value)


def _count_keys(value: object) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_count_keys(item) for item in value.values())
    if isinstance(value, list):
        return sum(_count_keys(item) for item in value)
    return 0


def _text(record: dict[str, Any], name: str, issues: list[Issue], *, required: bool) -> str | None:
    if name not in record:
        if required:
            issues.append((name, "missing"))
        return None
    value = record[name]
    if not isinstance(value, str):
        issues.append((name, f"must be a string, got {json_type(value)}"))
        return None
    return _blank_checked(value, name, issues)


def _blank_checked(text: str, name: str, issues: list[Issue]) -> str | None:
    if not text or text.isspace():
        issues.append((name, "empty or whitespace-only text"))
        return None
    return text


def _openai_text(message: dict[str, Any], here: str, issues: list[Issue]) -> str | None:
    """A message's text: a string, or a list holding exactly one {"type": "text", "text": ...} part."""
    if "content" not in message:
        issues.append((f"{here}.content", "missing"))
        return None
    content = message["content"]
    if isinstance(content, str):
        return _blank_checked(content, f"{here}.content", issues)
    if not isinstance(content, list) or len(content) != 1:
        issues.append(
            (
                f"{here}.content",
                f"must be a string or a list of one text part, got {sized(content)} "
                "(bedrock-conversation-2024 holds one text block per turn)",
            )
        )
        return None
    part = content[0]
    if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
        kind = part.get("type") if isinstance(part, dict) else json_type(part)
        issues.append((f"{here}.content[0]", f'only {{"type": "text", "text": ...}} parts convert, got {kind!r}'))
        return None
    return _blank_checked(part["text"], f"{here}.content[0].text", issues)


def _unconvertible_role(here: str, message: dict[str, Any], role: object, tool_fields: list[str]) -> Issue:
    if tool_fields:
        return (
            f"{here}.{tool_fields[0]}",
            "tool use cannot be converted (bedrock-conversation-2024 holds text turns only)",
        )
    if "role" not in message:
        return f"{here}.role", "missing"
    hint = " (roles are case-sensitive)" if isinstance(role, str) and role.lower() in _OPENAI_ROLES else ""
    shown = repr(role) if isinstance(role, str) else json_type(role)
    return f"{here}.role", f"must be 'system', 'user' or 'assistant', got {shown}{hint}"


def _member(key: str, parent: str = "$") -> str:
    name = key if key.isidentifier() else json.dumps(key)
    return name if parent == "$" else f"{parent}.{name}"
