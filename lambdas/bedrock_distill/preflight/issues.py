"""How a record's checks say what they found: an issue is a JSON path, a reason and a severity.

The validator turns each issue into a located Problem; ``distill convert`` reads them to refuse a record
before writing it. The helpers here word the paths and the reasons the same way for every rule group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from bedrock_distill.preflight.problems import Severity

Issue = tuple[str, str, Severity]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def error(field_path: str, reason: str) -> Issue:
    return field_path, reason, Severity.ERROR


def has_error(issues: Iterable[Issue]) -> bool:
    return any(severity is Severity.ERROR for _, _, severity in issues)


def member(parent: str, key: str) -> str:
    """A JSON path: ``messages[0].role``, or ``x["odd key"]`` when the key is not an identifier."""
    if _IDENTIFIER.match(key):
        return key if parent == "$" else f"{parent}.{key}"
    quoted = json.dumps(key)
    return f"$[{quoted}]" if parent == "$" else f"{parent}[{quoted}]"


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


def shown(value: object) -> str:
    """A wrong value as a reason quotes it: a string itself (shortened), anything else by its JSON type."""
    text = repr(value) if isinstance(value, str) else json_type(value)
    return text if len(text) <= 60 else text[:57] + "..."
