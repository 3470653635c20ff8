"""JSON-level rules for one record line: strict JSON in UTF-8 without a byte order mark, no NaN or
Infinity, no lone surrogates, no repeated keys, within the strict reader's depth and number limits.

orjson parses every line once. It refuses some of these without saying where, and it hides a repeated
key by keeping the last value, so the project's strict reader (strict_json.py) re-reads a line
(strict_load) only when orjson fails or a cheap byte count says a key may be repeated, and names each
problem with its path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from bedrock_distill.preflight.issues import Issue, error, member
from bedrock_distill.preflight.strict_json import parse_json

BOM: Final = b"\xef\xbb\xbf"
# Every key in JSON text ends with an unescaped quote, optional whitespace and a colon, so the number
# of matches is never below the number of keys (escaped quotes inside strings can only add matches).
_KEY_TERMINATOR = re.compile(rb'"[ \t\r\n]*:')
# orjson rejects raw bytes 0x00-0x1F inside strings, so a parsed string can hold a control character
# only through an escape (\u00XX, \b, \f), a raw DEL or the UTF-8 lead byte 0xC2 of U+0080-U+009F.
# Searching the raw line for those is several times faster than searching every decoded text.
_CONTROL_ESCAPE = re.compile(rb"\\(?:u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|[bf])")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# strict_load's answer for a line that is not JSON at all.
UNPARSEABLE: Final = object()


def strip_bom(raw: bytes, issues: list[Issue]) -> bytes:
    """A line that starts with a UTF-8 byte order mark, without it; the mark is an error (a record must
    start with its ``{``)."""
    issues.append(error("$", "starts with a UTF-8 byte order mark (BOM); save the file as UTF-8 without BOM"))
    return raw[len(BOM) :]


def may_hold_control_character(raw: bytes) -> bool:
    """Whether a line orjson accepted may hold a control character in a string (see _CONTROL_ESCAPE)."""
    return b"\x7f" in raw or b"\xc2" in raw or _CONTROL_ESCAPE.search(raw) is not None


def may_repeat_a_key(raw: bytes, keys_seen: int) -> bool:
    """Whether a line orjson accepted has more key terminators than the parsed record has keys, so one
    key may be repeated (orjson keeps its last value and says nothing)."""
    return len(_KEY_TERMINATOR.findall(raw)) > keys_seen and _unescaped_key_terminators(raw) > keys_seen


def key_count(value: object) -> int:
    """The keys of a parsed object, for the count may_repeat_a_key compares; 0 for anything else."""
    return len(value) if isinstance(value, dict) else 0


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


# --- The strict slow path: runs only for lines orjson rejects or that may repeat a key. ---------------


def strict_load(raw: bytes, orjson_error: str, issues: list[Issue]) -> Any:
    """Parses with the project's strict reader (strict_json.py), which names what orjson hides or rejects
    without saying where, within its depth and number limits, and records every JSON-level problem with its
    path. Returns UNPARSEABLE when the line is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.append(error("$", f"invalid UTF-8 at byte {exc.start}: {exc.reason}"))
        return UNPARSEABLE
    parsed = parse_json(text)
    if not parsed.parsed:
        # A record is one line, so the line of the problem is the record's; the reason says where.
        issues.extend(
            error("$", problem.reason if problem.field == "$" else f"{problem.reason}, at {problem.field}")
            for problem in parsed.problems
        )
        return UNPARSEABLE
    problems = [(problem.field, problem.reason) for problem in parsed.problems]
    # Recursive, but parse_json refused anything deeper than MAX_DEPTH.
    problems += _lone_surrogates(parsed.document, "$")
    issues.extend(error(field_path, reason) for field_path, reason in problems)
    if orjson_error and not problems:
        # The standard library accepted something orjson refused; say what orjson said.
        issues.append(error("$", f"not valid JSON: {orjson_error}"))
    return parsed.document


def _lone_surrogates(value: Any, here: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        surrogate = _LONE_SURROGATE.search(value)
        if surrogate:
            yield (
                here,
                f"lone surrogate U+{ord(surrogate.group()):04X} at character {surrogate.start()} (not valid Unicode)",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            if _LONE_SURROGATE.search(key):
                yield member(here, key), "lone surrogate in a key (not valid Unicode)"
            yield from _lone_surrogates(item, member(here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, f"{here}[{index}]")
