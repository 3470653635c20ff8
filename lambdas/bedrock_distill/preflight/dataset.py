"""A strict, streaming validator for ``bedrock-conversation-2024`` JSONL training data.

Bedrock silently drops records it cannot use, and AWS's sample validator accepts several it should
not (see docs/preflight.md). Each record here is parsed once with orjson; the strict standard-library
parser runs only when orjson fails, to say precisely why, or when a cheap byte count says a key may
be repeated, which orjson would otherwise hide by keeping the last value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import orjson

from bedrock_distill.catalog import requires_single_turn
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.preflight.file_format import HEAD_BYTES, FileFormat, recognize_file_format
from bedrock_distill.preflight.problems import (
    DEFAULT_KEPT_PROBLEMS,
    WHOLE_FILE,
    Problem,
    ProblemCallback,
    ProblemLog,
    Severity,
)
from bedrock_distill.preflight.repeated_keys import object_from_pairs, repeated_keys
from bedrock_distill.preflight.sources import (
    OversizeLine,
    iter_lines,
    open_stream,
    paused_garbage_collection,
)

SCHEMA_VERSION: Final = "bedrock-conversation-2024"
# The Bedrock user guide's own example spells it this way; Bedrock rejects it.
DOCUMENTED_SCHEMA_TYPO: Final = "bedrock-conversion-2024"
MAX_RECORDS: Final = 15_000
# A file-level diagnosis points at the file's first line, where an editor opens it.
FIRST_LINE: Final = 1
MIN_VALID_RECORDS: Final = 100
# No per-record byte limit is documented for distillation input. The smallest context window among
# the supported students is 128K tokens (Nova Micro, Llama 3.1 8B, Llama 3.2 1B/3B); at the usual
# ~4 bytes of English per token, 512 KiB is ~128K tokens: a larger record cannot fit any student.
MAX_RECORD_BYTES: Final = 512 * 1024
RECORD_SIZE_REASON: Final = (
    f"the limit is {MAX_RECORD_BYTES:,} bytes (512 KiB, ~128K tokens at ~4 bytes per token: the "
    "context window of the smallest supported students; Bedrock documents no tighter per-record limit)"
)
# A heuristic, not a tokenizer: English text averages about four characters per token.
CHARS_PER_TOKEN: Final = 4
# Remembering every prompt would make memory grow with the file. Beyond this many distinct prompts
# (several times the 15,000 a job can use) new prompts are no longer remembered.
DUPLICATE_TRACKING_LIMIT: Final = 100_000

_BOM = b"\xef\xbb\xbf"
_TOP_LEVEL_FIELDS = frozenset({"schemaVersion", "system", "messages"})
_MESSAGE_FIELDS = frozenset({"role", "content"})
_ROLES = ("user", "assistant")
# Every key in JSON text ends with an unescaped quote, optional whitespace and a colon, so the number
# of matches is never below the number of keys (escaped quotes inside strings can only add matches).
_KEY_TERMINATOR = re.compile(rb'"[ \t\r\n]*:')
# Unicode category Cc except tab, LF and CR.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# orjson rejects raw bytes 0x00-0x1F inside strings, so a parsed string can hold a control character
# only through an escape (\u00XX, \b, \f), a raw DEL or the UTF-8 lead byte 0xC2 of U+0080-U+009F.
# Searching the raw line for those is several times faster than searching every decoded text.
_CONTROL_ESCAPE = re.compile(rb"\\(?:u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|[bf])")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Issue = tuple[str, str, Severity]


class _RecordShape(NamedTuple):
    """What a valid record contributes to the summary (a tuple: one is built per record)."""

    user_turns: int
    has_golden_answer: bool
    prompt_fingerprint: int
    input_characters: int


@dataclass(frozen=True)
class DatasetReport:
    source: str
    student_model_id: str | None
    records: int
    valid: int
    invalid: int
    blank_lines: int
    single_turn: int
    multi_turn: int
    with_golden_answer: int
    duplicate_prompts: int
    estimated_input_tokens: int
    errors: int
    warnings: int
    verdict_reasons: list[str]
    problems: list[Problem] = field(repr=False)
    problems_truncated: bool = False

    @property
    def is_valid(self) -> bool:
        return self.errors == 0

    @property
    def verdict(self) -> str:
        return "valid" if self.is_valid else "invalid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "student_model_id": self.student_model_id,
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid,
            "blank_lines": self.blank_lines,
            "single_turn": self.single_turn,
            "multi_turn": self.multi_turn,
            "with_golden_answer": self.with_golden_answer,
            "duplicate_prompts": self.duplicate_prompts,
            "estimated_input_tokens": self.estimated_input_tokens,
            "token_estimate_method": f"characters / {CHARS_PER_TOKEN}",
            "errors": self.errors,
            "warnings": self.warnings,
            "verdict": self.verdict,
            "verdict_reasons": self.verdict_reasons,
            "problems": [problem.to_dict() for problem in self.problems],
            "problems_truncated": self.problems_truncated,
        }


def validate_dataset(
    source: str,
    student_model_id: str | None = None,
    *,
    s3: S3Gateway | None = None,
    on_problem: ProblemCallback | None = None,
    keep_problems: int = DEFAULT_KEPT_PROBLEMS,
    repeats_shown: int | None = None,
) -> DatasetReport:
    """Validates a local ``.jsonl`` file or an ``s3://bucket/key`` object, streaming it.

    Raises SourceError when the input cannot be read. Every problem is passed to ``on_problem`` as it
    is found; the report keeps the first ``keep_problems`` of them. With ``repeats_shown``, a problem
    repeated on many lines is passed on for that many lines, then once as a summary (the counts keep
    every repeat).

    A file that is not JSONL records at all (gzip, UTF-16, a JSON array, prompt/completion data, ...)
    gets one problem on line 1 that names its format and the fix, and no line-by-line validation.
    """
    checker = RecordChecker(student_model_id)
    log = ProblemLog(on_problem, keep_problems, repeats_shown=repeats_shown)
    duplicates = _DuplicatePrompts(source)
    records = valid = blank_lines = single_turn = multi_turn = golden = characters = 0

    with open_stream(source, s3) as stream, paused_garbage_collection():
        head = stream.peek(HEAD_BYTES)[:HEAD_BYTES]
        file_format = recognize_file_format(head, source, whole_file=len(head) < HEAD_BYTES)
        if file_format is not None:
            return _unusable_file(source, student_model_id, file_format, log)
        for line_number, line in enumerate(iter_lines(stream, MAX_RECORD_BYTES), start=1):
            if isinstance(line, OversizeLine):
                records += 1
                log.add(Problem(source, line_number, "$", f"record is {line.length:,} bytes; {RECORD_SIZE_REASON}"))
                continue
            if not line or line.isspace():
                blank_lines += 1
                log.add(Problem(source, line_number, "$", "blank line", Severity.WARNING))
                continue
            records += 1
            issues, shape = checker.check_line(line)
            for field_path, reason, severity in issues:
                log.add(Problem(source, line_number, field_path, reason, severity))
            if shape is None:
                continue
            valid += 1
            characters += shape.input_characters
            golden += shape.has_golden_answer
            if shape.user_turns > 1:
                multi_turn += 1
            else:
                single_turn += 1
            duplicate = duplicates.check(shape.prompt_fingerprint, line_number)
            if duplicate is not None:
                log.add(duplicate)

    log.finish()
    verdict_reasons = _file_level_verdict(source, records, valid, log)
    return DatasetReport(
        source=source,
        student_model_id=student_model_id,
        records=records,
        valid=valid,
        invalid=records - valid,
        blank_lines=blank_lines,
        single_turn=single_turn,
        multi_turn=multi_turn,
        with_golden_answer=golden,
        duplicate_prompts=duplicates.found,
        estimated_input_tokens=math.ceil(characters / CHARS_PER_TOKEN),
        errors=log.errors,
        warnings=log.warnings,
        verdict_reasons=verdict_reasons,
        problems=log.kept,
        problems_truncated=log.truncated,
    )


def _unusable_file(
    source: str, student_model_id: str | None, file_format: FileFormat, log: ProblemLog
) -> DatasetReport:
    """The report on a file in another format: one problem, and no records counted."""
    log.add(Problem(source, FIRST_LINE, "(file)", file_format.reason))
    log.finish()
    return DatasetReport(
        source=source,
        student_model_id=student_model_id,
        records=0,
        valid=0,
        invalid=0,
        blank_lines=0,
        single_turn=0,
        multi_turn=0,
        with_golden_answer=0,
        duplicate_prompts=0,
        estimated_input_tokens=0,
        errors=log.errors,
        warnings=log.warnings,
        verdict_reasons=[f"not {SCHEMA_VERSION} JSONL ({file_format.name})"],
        problems=log.kept,
        problems_truncated=log.truncated,
    )


def _file_level_verdict(source: str, records: int, valid: int, log: ProblemLog) -> list[str]:
    """Adds the whole-file problems to the log and returns every reason the verdict is invalid."""
    verdict_reasons = []
    if records > valid:
        verdict_reasons.append(f"{records - valid:,} invalid records")
    if records > MAX_RECORDS:
        reason = f"{records:,} records; Bedrock accepts at most {MAX_RECORDS:,} per job"
        log.add(Problem(source, WHOLE_FILE, "(file)", reason))
        verdict_reasons.append(f"more than {MAX_RECORDS:,} records ({records:,})")
    if valid < MIN_VALID_RECORDS:
        reason = (
            f"only {valid:,} valid records; distillation needs at least {MIN_VALID_RECORDS} "
            "(Bedrock drops invalid records before counting)"
        )
        log.add(Problem(source, WHOLE_FILE, "(file)", reason))
        verdict_reasons.append(f"fewer than {MIN_VALID_RECORDS} valid records ({valid:,})")
    return verdict_reasons


class _DuplicatePrompts:
    """Remembers where each distinct prompt first appeared, up to DUPLICATE_TRACKING_LIMIT of them."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._first_line: dict[int, int] = {}
        self._stopped = False
        self.found = 0

    def check(self, fingerprint: int, line_number: int) -> Problem | None:
        first_line = self._first_line.get(fingerprint)
        if first_line is not None:
            self.found += 1
            reason = f"duplicate prompt: identical to line {first_line}"
            return Problem(self._source, line_number, "messages", reason, Severity.WARNING)
        if len(self._first_line) < DUPLICATE_TRACKING_LIMIT:
            self._first_line[fingerprint] = line_number
            return None
        if self._stopped:
            return None
        self._stopped = True
        reason = (
            f"the duplicate-prompt check covers the first {DUPLICATE_TRACKING_LIMIT:,} distinct prompts only, "
            "to keep memory bounded"
        )
        return Problem(self._source, line_number, "(file)", reason, Severity.WARNING)


class RecordChecker:
    """Checks one JSONL line against the schema and the student's single-turn rule."""

    def __init__(self, student_model_id: str | None = None) -> None:
        self._student_model_id = student_model_id
        # None: no student given, so multi-turn records are allowed but flagged.
        self._single_turn_required = None if student_model_id is None else requires_single_turn(student_model_id)

    def check_line(self, raw: bytes) -> tuple[list[Issue], _RecordShape | None]:
        """The problems in one line, and its shape when it has no errors."""
        issues: list[Issue] = []
        if raw.startswith(_BOM):
            issues.append(_error("$", "starts with a UTF-8 byte order mark (BOM); save the file as UTF-8 without BOM"))
            raw = raw[len(_BOM) :]
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            document = _strict_load(raw, str(error), issues)
            if document is _UNPARSEABLE:
                return issues, None
            shape = self._check_document(document, issues, check_controls=True)[1]
        else:
            may_hold_control = b"\x7f" in raw or b"\xc2" in raw or _CONTROL_ESCAPE.search(raw) is not None
            keys_seen, shape = self._check_document(document, issues, check_controls=may_hold_control)
            if len(_KEY_TERMINATOR.findall(raw)) > keys_seen and _unescaped_key_terminators(raw) > keys_seen:
                _strict_load(raw, "", issues)
        if issues and any(severity is Severity.ERROR for _, _, severity in issues):
            return issues, None
        return issues, shape

    def _check_document(
        self, document: object, issues: list[Issue], *, check_controls: bool
    ) -> tuple[int, _RecordShape | None]:
        """Checks the schema. Returns how many object keys it saw, and the record's shape."""
        if not isinstance(document, dict):
            issues.append(_error("$", f"record must be a JSON object, got {json_type(document)}"))
            return 0, None
        keys_seen = len(document)
        if not document.keys() <= _TOP_LEVEL_FIELDS:
            issues.extend(
                _error(_member("$", name), "unknown top-level field (allowed: schemaVersion, system, messages)")
                for name in document
                if name not in _TOP_LEVEL_FIELDS
            )
        _check_schema_version(document, issues)

        system_text: str | None = None
        if "system" in document:
            system = document["system"]
            if not isinstance(system, list) or len(system) != 1:
                issues.append(_error("system", f'must be a list of exactly one {{"text": ...}}, got {sized(system)}'))
            else:
                keys_seen += _keys(system[0])
                system_text = _check_text_block(system[0], None, issues, check_controls)

        if "messages" not in document:
            issues.append(_error("messages", "missing; a record needs at least one user message"))
            return keys_seen, None
        messages = document["messages"]
        if not isinstance(messages, list):
            issues.append(_error("messages", f"must be a list of messages, got {json_type(messages)}"))
            return keys_seen, None
        if not messages:
            issues.append(_error("messages", "empty; a record needs at least one user message"))
            return keys_seen, None

        texts: list[str] = []
        for index, message in enumerate(messages):
            keys_seen += self._check_message(message, index, issues, texts, check_controls)
        # In a record without problems roles alternate from user, so every even position is a user turn;
        # otherwise the roles must be counted (user, assistant, assistant is one user turn, not two).
        user_turns = _user_turns(messages) if issues else (len(messages) + 1) // 2
        if user_turns > 1:
            self._check_turns(user_turns, issues)
        if issues and any(severity is Severity.ERROR for _, _, severity in issues):
            return keys_seen, None

        has_golden_answer = len(messages) % 2 == 0
        # The golden answer is an example output, not part of the prompt the teacher receives.
        prompt_texts = texts[:-1] if has_golden_answer else texts
        if system_text is not None:
            prompt_texts.append(system_text)
        input_characters = sum(map(len, prompt_texts))
        shape = _RecordShape(user_turns, has_golden_answer, hash(tuple(prompt_texts)), input_characters)
        return keys_seen, shape

    @staticmethod
    def _check_message(message: object, index: int, issues: list[Issue], texts: list[str], check_controls: bool) -> int:
        """Checks one message, appends its text and returns its key count. An unusable text is appended
        as "" to keep positions; its record has an error, so no shape is built from it."""
        if not isinstance(message, dict):
            issues.append(
                _error(f"messages[{index}]", f"must be an object with role and content, got {json_type(message)}")
            )
            texts.append("")
            return 0
        keys_seen = len(message)
        if not message.keys() <= _MESSAGE_FIELDS:
            issues.extend(
                _error(_member(f"messages[{index}]", name), "unknown field (allowed: role, content)")
                for name in message
                if name not in _MESSAGE_FIELDS
            )
        expected = _ROLES[index % 2]
        role = message.get("role")
        if role != expected:
            issues.append(_error(f"messages[{index}].role", _role_reason(message, role, expected, index)))
        if "content" not in message:
            issues.append(_error(f"messages[{index}].content", "missing"))
            texts.append("")
            return keys_seen
        content = message["content"]
        if not isinstance(content, list) or len(content) != 1:
            issues.append(
                _error(
                    f"messages[{index}].content",
                    f'must be a list of exactly one {{"text": ...}}, got {sized(content)}',
                )
            )
            texts.append("")
            return keys_seen
        keys_seen += _keys(content[0])
        texts.append(_check_text_block(content[0], index, issues, check_controls) or "")
        return keys_seen

    def _check_turns(self, user_turns: int, issues: list[Issue]) -> None:
        if user_turns <= 1 or self._single_turn_required is False:
            return
        if self._single_turn_required:
            issues.append(
                _error(
                    "messages",
                    f"{user_turns} user turns, but student {self._student_model_id} accepts single-turn "
                    "records only (Meta and Anthropic students; Amazon Nova allows multi-turn)",
                )
            )
        else:
            issues.append(
                (
                    "messages",
                    f"{user_turns} user turns: multi-turn records are accepted for Amazon Nova students only "
                    "(check with distill validate --student MODEL)",
                    Severity.WARNING,
                )
            )


def _user_turns(messages: list[Any]) -> int:
    return sum(isinstance(message, dict) and message.get("role") == "user" for message in messages)


def _unescaped_key_terminators(raw: bytes) -> int:
    """Key terminators not preceded by an odd run of backslashes: prompts that quote JSON (a \\": inside
    a string) would otherwise send every such line down the slow path."""
    count = 0
    for match in _KEY_TERMINATOR.finditer(raw):
        before = match.start()
        backslashes = 0
        while before > backslashes and raw[before - 1 - backslashes] == ord("\\"):
            backslashes += 1
        count += backslashes % 2 == 0
    return count


def _check_schema_version(document: dict[str, Any], issues: list[Issue]) -> None:
    version = document.get("schemaVersion")
    if version == SCHEMA_VERSION:
        return
    if "schemaVersion" not in document:
        issues.append(_error("schemaVersion", f"missing; must be {SCHEMA_VERSION!r}"))
    elif version == DOCUMENTED_SCHEMA_TYPO:
        issues.append(
            _error(
                "schemaVersion",
                f"{version!r} is a typo copied from the Bedrock user guide; must be {SCHEMA_VERSION!r}",
            )
        )
    else:
        issues.append(_error("schemaVersion", f"must be exactly {SCHEMA_VERSION!r}, got {_shown(version)}"))


def _check_text_block(
    block: object, message_index: int | None, issues: list[Issue], check_controls: bool
) -> str | None:
    """A block must be exactly {"text": <non-blank string>}. Returns the text when it is usable.

    The block is system[0] when message_index is None; its path is only built for a problem.
    """
    if not isinstance(block, dict):
        issues.append(
            _error(_text_block_path(message_index), f'must be an object {{"text": ...}}, got {json_type(block)}')
        )
        return None
    if len(block) != 1 or "text" not in block:
        issues.extend(
            _error(
                _member(_text_block_path(message_index), name),
                'only {"text": ...} blocks are supported; unexpected field',
            )
            for name in block
            if name != "text"
        )
        if "text" not in block:
            issues.append(_error(f"{_text_block_path(message_index)}.text", "missing"))
            return None
    text = block["text"]
    if not isinstance(text, str):
        issues.append(_error(f"{_text_block_path(message_index)}.text", f"must be a string, got {json_type(text)}"))
        return None
    if not text or text.isspace():
        issues.append(_error(f"{_text_block_path(message_index)}.text", "empty or whitespace-only text"))
        return None
    control = _CONTROL_CHARACTER.search(text) if check_controls else None
    if control:
        issues.append(
            _error(
                f"{_text_block_path(message_index)}.text",
                f"control character U+{ord(control.group()):04X} at character {control.start()} "
                "(only tab, LF and CR are allowed)",
            )
        )
        return None
    return text


def _text_block_path(message_index: int | None) -> str:
    return "system[0]" if message_index is None else f"messages[{message_index}].content[0]"


def _role_reason(message: dict[str, Any], role: object, expected: str, index: int) -> str:
    if "role" not in message:
        return f"missing; expected {expected!r}"
    if role not in _ROLES:
        hint = " (roles are case-sensitive)" if isinstance(role, str) and role.lower() in _ROLES else ""
        return f"must be 'user' or 'assistant', got {_shown(role)}{hint}"
    if index == 0:
        return f"messages must start with a user turn, got {role!r}"
    return f"roles must alternate user/assistant: expected {expected!r} after {_ROLES[(index - 1) % 2]!r}, got {role!r}"


# --- The strict slow path: runs only for lines orjson rejects or that may repeat a key. ---------------


class _NonFinite:
    """Stands in for NaN, Infinity or an overflowing number, which JSON does not allow."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


_UNPARSEABLE: Final = object()


def _finite_float(literal: str) -> float | _NonFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NonFinite(literal)


def _strict_load(raw: bytes, orjson_error: str, issues: list[Issue]) -> Any:
    """Parses with the standard library, which keeps what orjson hides or rejects without saying where,
    and records every JSON-level problem with its path. Returns _UNPARSEABLE when the line is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        issues.append(_error("$", f"invalid UTF-8 at byte {error.start}: {error.reason}"))
        return _UNPARSEABLE
    try:
        document = json.loads(
            text, object_pairs_hook=object_from_pairs, parse_constant=_NonFinite, parse_float=_finite_float
        )
        # Walked inside the try: the standard library's parser gives up at about 1,000 levels on Python 3.11 but
        # only at several thousand on 3.13, while this recursive walk hits the recursion limit on every version.
        problems = list(_json_level_problems(document, "$"))
    except json.JSONDecodeError as error:
        issues.append(_error("$", f"not valid JSON: {error.msg} at column {error.colno}"))
        return _UNPARSEABLE
    except RecursionError:
        issues.append(_error("$", "not valid JSON: nested too deeply"))
        return _UNPARSEABLE
    issues.extend(_error(field_path, reason) for field_path, reason in problems)
    if orjson_error and not problems:
        # The standard library accepted something orjson refused; say what orjson said.
        issues.append(_error("$", f"not valid JSON: {orjson_error}"))
    return document


def _json_level_problems(value: Any, here: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, _NonFinite):
        yield here, f"{value.literal} is not valid JSON (JSON has no NaN or Infinity)"
    elif isinstance(value, str):
        surrogate = _LONE_SURROGATE.search(value)
        if surrogate:
            yield (
                here,
                f"lone surrogate U+{ord(surrogate.group()):04X} at character {surrogate.start()} (not valid Unicode)",
            )
    elif isinstance(value, dict):
        for key in repeated_keys(value):
            yield _member(here, key), "duplicate key: parsers keep only the last value, so the others are silently lost"
        for key, item in value.items():
            if _LONE_SURROGATE.search(key):
                yield _member(here, key), "lone surrogate in a key (not valid Unicode)"
            yield from _json_level_problems(item, _member(here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_level_problems(item, f"{here}[{index}]")


# --- Small helpers -----------------------------------------------------------------------------------


def _error(field_path: str, reason: str) -> Issue:
    return field_path, reason, Severity.ERROR


def _member(parent: str, key: str) -> str:
    """A JSON path: ``messages[0].role``, or ``x["odd key"]`` when the key is not an identifier."""
    if _IDENTIFIER.match(key):
        return key if parent == "$" else f"{parent}.{key}"
    quoted = json.dumps(key)
    return f"$[{quoted}]" if parent == "$" else f"{parent}[{quoted}]"


def _keys(value: object) -> int:
    return len(value) if isinstance(value, dict) else 0


def json_type(value: object) -> str:
    """The JSON type name of a parsed value, as problems name it."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def sized(value: object) -> str:
    """A list as "a list of N", anything else as its JSON type: what a one-element field was given."""
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return json_type(value)


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else json_type(value)
    return text if len(text) <= 60 else text[:57] + "..."
