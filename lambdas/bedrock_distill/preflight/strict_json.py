"""The one strict JSON reader for what users write: settings files, filters, dataset records.

JSON parsers accept more than a user means and fail in ways that depend on the Python version: the last of two
equal keys silently wins, NaN and Infinity pass, an integer of over 4,300 digits raises a bare ValueError, and
deep nesting raises RecursionError at a depth that differs between orjson, Python 3.11 and 3.13. So, before any
parser sees the text, one linear pass over its tokens (never recursive) finds, with line and field:

- nesting deeper than MAX_DEPTH levels (the parse is then not attempted);
- a key repeated in one object, at any depth;
- an integer of more than MAX_INTEGER_DIGITS digits, a number that overflows to infinity, NaN and Infinity.

Only then does the standard library parse it (syntax errors keep its line and column), with hooks that never
convert a huge integer. The same text gets the same problems on every supported Python.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

# Deeper than any document this project reads (a filter is 4 levels, a record 5), far below every parser's own
# limit (orjson's 1,024; the standard library's, which depends on the Python version and the stack).
MAX_DEPTH: Final = 64
# Enough for any 64-bit integer (18,446,744,073,709,551,615 has 20 digits); far below Python's 4,300-digit limit.
MAX_INTEGER_DIGITS: Final = 20
# A hostile document can repeat a key thousands of times: name the first problems, that is enough to fix it.
MAX_PROBLEMS: Final = 20
ROOT: Final = "$"
_PATH_PARTS_SHOWN: Final = 6
_TOO_DEEP: Final = "nested too deeply: more than"

# Strings first (so brackets, digits and words inside them are skipped), each key with its colon.
_TOKEN = re.compile(
    r'"(?P<string>[^"\\]*(?:\\.[^"\\]*)*)"(?P<colon>[ \t\r\n]*:)?'
    r"|(?P<open>[{\[])|(?P<close>[}\]])|(?P<comma>,)"
    r"|(?P<number>-?[0-9]+(?P<fraction>\.[0-9]+)?(?P<exponent>[eE][+-]?[0-9]+)?)"
    r"|(?P<non_finite>-?Infinity|NaN)",
    re.DOTALL,
)

PathPart = str | int


@dataclass(frozen=True, slots=True)
class JsonProblem:
    """One problem in a JSON text: its 1-based line, the path of the value (keys and list indices), why."""

    line: int
    path: tuple[PathPart, ...]
    reason: str

    @property
    def field(self) -> str:
        """The path as the project writes fields elsewhere: ``filter.andAll[0].equals``; ``$`` for the whole."""
        return dotted(self.path)

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.field}: {self.reason}"


class InvalidJsonError(ValueError):
    """The text is not a JSON document this project accepts; every problem is located."""

    def __init__(self, problems: list[JsonProblem]) -> None:
        super().__init__("\n".join(problem.render("(text)") for problem in problems))
        self.problems = problems

    def rendered(self, source: str) -> list[str]:
        return [problem.render(source) for problem in self.problems]


def dotted(path: tuple[PathPart, ...]) -> str:
    if not path:
        return ROOT
    if len(path) > _PATH_PARTS_SHOWN:
        return f"{dotted(path[:_PATH_PARTS_SHOWN])}...({len(path)} levels)"
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]" if text else f"{ROOT}[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]" if text else f"{ROOT}[{json.dumps(part)}]"
    return text


class ParsedJson(NamedTuple):
    """What parse_json found: the document (None when the text could not be parsed) and every problem."""

    document: Any
    problems: list[JsonProblem]
    parsed: bool


def load_json(text: str | bytes) -> Any:
    """The document, or InvalidJsonError naming every problem with its line and field."""
    parsed = read_json(text)
    if parsed.problems:
        raise InvalidJsonError(parsed.problems)
    return parsed.document


def read_json(text: str | bytes) -> ParsedJson:
    """parse_json for text that may still be bytes: they must be UTF-8, and a byte order mark is refused (JSON
    text exchanged between systems has none, RFC 8259)."""
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw.count(b"\n", 0, error.start) + 1
            return _unparsed(JsonProblem(line, (), f"not UTF-8: byte {error.start}: {error.reason}"))
    if text.startswith("\ufeff"):
        return _unparsed(JsonProblem(1, (), "starts with a byte order mark (BOM); save it as UTF-8 without BOM"))
    return parse_json(text)


def _unparsed(problem: JsonProblem) -> ParsedJson:
    return ParsedJson(None, [problem], parsed=False)


def parse_json(text: str) -> ParsedJson:
    """The document and every problem, for a caller that reports problems its own way (dataset records)."""
    problems = text_problems(text)
    if problems and problems[-1].reason.startswith(_TOO_DEEP):
        return ParsedJson(None, problems[-1:], parsed=False)
    try:
        document = json.loads(text, parse_int=_bounded_int, parse_constant=_NonFinite, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        return _unparsed(JsonProblem(error.lineno, (), f"not valid JSON: {error.msg} at column {error.colno}"))
    return ParsedJson(document, problems, parsed=True)


def text_problems(text: str) -> list[JsonProblem]:
    """Depth, repeated keys and number size in one pass over the tokens (see the module docstring). Stops at the
    first level past MAX_DEPTH (the last problem then) and after MAX_PROBLEMS."""
    scan = _Scan(text)
    for token in _TOKEN.finditer(text):
        if not scan.step(token) or len(scan.problems) >= MAX_PROBLEMS:
            break
    return scan.problems


class _Scan:
    """The state of text_problems' pass: the open objects and lists, and what was found."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[JsonProblem] = []
        self.frames: list[_Frame] = []

    def step(self, token: re.Match[str]) -> bool:
        """Takes one token; False when the scan must stop (too deep)."""
        frames = self.frames
        if token.group("string") is not None:
            if token.group("colon") and frames and frames[-1].is_object:
                self._key(_decoded_key(token.group("string")), token)
        elif token.group("open"):
            if len(frames) >= MAX_DEPTH:
                self._problem(token, f"{_TOO_DEEP} {MAX_DEPTH} levels (this project's limit for the JSON it reads)")
                return False
            is_object = token.group() == "{"
            frames.append(_Frame(is_object=is_object, label=None if is_object else 0))
        elif token.group("close"):
            if frames:
                frames.pop()
        elif token.group("comma"):
            label = frames[-1].label if frames else None
            if isinstance(label, int) and not frames[-1].is_object:
                frames[-1].label = label + 1
        elif token.group("number"):
            if reason := _number_problem(token):
                self._problem(token, reason)
        else:
            self._problem(token, f"{token.group()} is not valid JSON (JSON has no NaN or Infinity)")
        return True

    def _key(self, key: str, token: re.Match[str]) -> None:
        frame = self.frames[-1]
        if key in frame.keys:
            self.problems.append(
                JsonProblem(
                    _line(self.text, token.start()),
                    (*_path(self.frames[:-1]), key),
                    "duplicate key: JSON keeps only the last value, so the others would be lost",
                )
            )
        frame.keys.add(key)
        frame.label = key

    def _problem(self, token: re.Match[str], reason: str) -> None:
        self.problems.append(JsonProblem(_line(self.text, token.start()), _path(self.frames), reason))


def value_problems(value: object) -> list[JsonProblem]:
    """The same limits for a document some other parser already read (an event Lambda hands over): nesting and
    number size, walked without recursion. Repeated keys are gone by then; line is 0 (there is no text)."""
    problems: list[JsonProblem] = []
    pending: list[tuple[object, tuple[PathPart, ...], int]] = [(value, (), 0)]
    while pending and len(problems) < MAX_PROBLEMS:
        item, path, depth = pending.pop()
        if isinstance(item, Mapping | list):
            if depth >= MAX_DEPTH:
                problems.append(JsonProblem(0, path, f"{_TOO_DEEP} {MAX_DEPTH} levels"))
                continue
            children = item.items() if isinstance(item, Mapping) else enumerate(item)
            pending.extend((child, (*path, key), depth + 1) for key, child in reversed(list(children)))
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) >= _INTEGER_BOUND:
            problems.append(JsonProblem(0, path, f"integer of more than {MAX_INTEGER_DIGITS} digits"))
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append(JsonProblem(0, path, f"{item} is not valid JSON (JSON has no NaN or Infinity)"))
    return problems


# Compared, never converted to text (which is what raises past 4,300 digits).
_INTEGER_BOUND: Final = 10**MAX_INTEGER_DIGITS


@dataclass(slots=True)
class _Frame:
    is_object: bool
    label: PathPart | None
    keys: set[str] = field(default_factory=set)


def _path(frames: list[_Frame]) -> tuple[PathPart, ...]:
    return tuple(frame.label for frame in frames if frame.label is not None)


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _decoded_key(literal: str) -> str:
    try:
        key = json.loads(f'"{literal}"')
    except json.JSONDecodeError:
        return literal  # the parse that follows names the syntax error
    return key if isinstance(key, str) else literal


def _number_problem(token: re.Match[str]) -> str | None:
    literal = token.group("number")
    if token.group("fraction") is None and token.group("exponent") is None:
        digits = len(literal.lstrip("-"))
        if digits > MAX_INTEGER_DIGITS:
            return f"integer of {digits:,} digits; at most {MAX_INTEGER_DIGITS} are accepted"
        return None
    if not math.isfinite(float(literal)):
        shown = f"{literal[:20]}..." if len(literal) > 20 else literal
        return f"{shown} is not valid JSON: it overflows to infinity (JSON has no NaN or Infinity)"
    return None


class _NonFinite:
    """Stands in for NaN, Infinity or an overflowing number, which JSON does not allow (text_problems named it)."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _bounded_int(literal: str) -> int | _NonFinite:
    # Never int() a literal past the limit: Python raises ValueError beyond 4,300 digits (text_problems named it).
    return int(literal) if len(literal) <= MAX_INTEGER_DIGITS + 1 else _NonFinite(literal)


def _finite_float(literal: str) -> float | _NonFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NonFinite(literal)
