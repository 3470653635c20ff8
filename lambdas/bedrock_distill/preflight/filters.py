"""``requestMetadataFilters``: checked exactly as the Bedrock API defines it, and evaluated as Bedrock
would evaluate it over an invocation log record's ``requestMetadata``.

The shape (botocore's ``bedrock`` service model, RequestMetadataFilters): a union of exactly one of
``equals`` / ``notEquals`` (a string map with exactly one entry) or ``andAll`` / ``orAll`` (1-16
RequestMetadataBaseFilters, each holding ``equals`` or ``notEquals``). Keys are 1-256 characters,
values 0-256, both matching ``[a-zA-Z0-9\\s._:/=+$@-]``. botocore checks none of the entry counts or
patterns client-side, and a JSON parser silently keeps the last of two ``equals`` keys, so a filter
with a repeated key would be sent with one condition fewer than written.

Semantics, from the API reference: equals "Include results where the key equals the value";
notEquals "Include results where the key does not equal the value"; andAll "all of the base filters
match"; orAll "any of the base filters match". The reference does not say what notEquals does when a
record has no such key. We assume it matches (an absent key does not equal the value), and values
compare as exact, case-sensitive strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bedrock_distill.preflight.strict_json import read_json

MAP_OPERATORS: Final = ("equals", "notEquals")
LIST_OPERATORS: Final = ("andAll", "orAll")
OPERATORS: Final = MAP_OPERATORS + LIST_OPERATORS
MAX_BASE_FILTERS: Final = 16
MAX_KEY_LENGTH: Final = 256
MAX_VALUE_LENGTH: Final = 256
# The API pattern's \s is Java's ASCII whitespace; Python's would also admit Unicode spaces.
_ALLOWED_CHARACTERS = re.compile(r"[a-zA-Z0-9 \t\n\x0b\f\r._:/=+$@-]*")
_ALLOWED_DESCRIPTION = "letters, digits, whitespace and . _ : / = + $ @ -"

MetadataPredicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    reason: str
    # The line in the filter's text, for problems found while reading it (parse_filter); None for the rules.
    line: int | None = None

    def render(self) -> str:
        return f"{self.field}: {self.reason}"

    def located(self, source: str) -> str:
        """``FILE:LINE: field: reason`` (``FILE: field: reason`` when no line applies)."""
        return f"{source}:{self.line}: {self.render()}" if self.line is not None else f"{source}: {self.render()}"

    def to_dict(self) -> dict[str, str | int]:
        located: dict[str, str | int] = {"line": self.line} if self.line is not None else {}
        return {**located, "field": self.field, "reason": self.reason}


def parse_filter(text: str | bytes) -> tuple[Any, list[Violation]]:
    """Reads filter JSON with the project's strict reader (strict_json.py: a repeated key, deep nesting or a
    huge number is a located violation), then checks it.

    Returns the document (None when the text could not be parsed) and every violation found.
    """
    parsed = read_json(text)
    violations = [Violation(problem.field, problem.reason, problem.line) for problem in parsed.problems]
    if not parsed.parsed:
        return None, violations
    return parsed.document, violations + check_filter(parsed.document)


def check_filter(document: object) -> list[Violation]:
    """Every way the document breaks the RequestMetadataFilters rules; empty when Bedrock accepts it.

    Repeated keys are refused when the text is read (parse_filter, strict_json.py): a parsed dict has none left.
    """
    violations: list[Violation] = []
    if not isinstance(document, dict):
        return [Violation("$", f"must be an object with exactly one of {', '.join(OPERATORS)}")]
    operators = [name for name in document if name in OPERATORS]
    violations.extend(
        Violation(name, f"unknown operator (allowed: {', '.join(OPERATORS)})")
        for name in document
        if name not in OPERATORS
    )
    if not operators:
        violations.append(Violation("$", f"needs exactly one operator: {', '.join(OPERATORS)}"))
    elif len(operators) > 1:
        violations.append(
            Violation("$", f"exactly one operator per filter (it is a union), got {', '.join(operators)}")
        )
    for name in operators:
        if name in MAP_OPERATORS:
            _check_map(document[name], name, violations)
        else:
            _check_base_filter_list(document[name], name, violations)
    return violations


def _check_base_filter_list(value: object, here: str, violations: list[Violation]) -> None:
    if not isinstance(value, list):
        violations.append(Violation(here, "must be a list of base filters ({equals: ...} or {notEquals: ...})"))
        return
    if not 1 <= len(value) <= MAX_BASE_FILTERS:
        violations.append(Violation(here, f"must hold 1 to {MAX_BASE_FILTERS} base filters, got {len(value)}"))
    for index, item in enumerate(value):
        item_path = f"{here}[{index}]"
        if not isinstance(item, dict):
            violations.append(Violation(item_path, "must be an object with equals or notEquals"))
            continue
        operators = [name for name in item if name in MAP_OPERATORS]
        for name in item:
            if name in LIST_OPERATORS:
                violations.append(Violation(f"{item_path}.{name}", "operators cannot be nested"))
            elif name not in MAP_OPERATORS:
                violations.append(Violation(f"{item_path}.{name}", "unknown operator (allowed: equals, notEquals)"))
        if len(operators) != 1:
            violations.append(
                Violation(item_path, f"a base filter holds exactly one of equals, notEquals; got {len(operators)}")
            )
        for name in operators:
            _check_map(item[name], f"{item_path}.{name}", violations)


def _check_map(value: object, here: str, violations: list[Violation]) -> None:
    if not isinstance(value, dict):
        violations.append(Violation(here, 'must be an object with exactly one "key": "value" entry'))
        return
    if len(value) != 1:
        violations.append(Violation(here, f"must hold exactly one key-value entry, got {len(value)}"))
    for key, entry in value.items():
        entry_path = f"{here}[{json.dumps(key)}]"
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            violations.append(Violation(entry_path, f"key must be 1 to {MAX_KEY_LENGTH} characters, got {len(key)}"))
        if not _ALLOWED_CHARACTERS.fullmatch(key):
            violations.append(Violation(entry_path, f"key may contain only {_ALLOWED_DESCRIPTION}"))
        if not isinstance(entry, str):
            violations.append(Violation(entry_path, "value must be a string"))
            continue
        if len(entry) > MAX_VALUE_LENGTH:
            violations.append(
                Violation(entry_path, f"value must be at most {MAX_VALUE_LENGTH} characters, got {len(entry)}")
            )
        if not _ALLOWED_CHARACTERS.fullmatch(entry):
            violations.append(Violation(entry_path, f"value may contain only {_ALLOWED_DESCRIPTION}"))


def compile_filter(document: Mapping[str, Any]) -> MetadataPredicate:
    """A predicate over ``requestMetadata`` for a filter that check_filter accepts."""
    for name in MAP_OPERATORS:
        if name in document:
            return _compile_base(name, document[name])
    combine = all if "andAll" in document else any
    conditions = [_compile_base(*_only_operator(item)) for item in document.get("andAll") or document["orAll"]]
    return lambda metadata: combine(condition(metadata) for condition in conditions)


def filter_matches(document: Mapping[str, Any], request_metadata: Mapping[str, Any]) -> bool:
    return compile_filter(document)(request_metadata)


def _only_operator(base_filter: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    ((name, entry),) = base_filter.items()
    return name, entry


def _compile_base(operator: str, entry: Mapping[str, Any]) -> MetadataPredicate:
    ((key, value),) = entry.items()
    if operator == "equals":
        return lambda metadata: key in metadata and metadata[key] == value
    # An absent key does not equal the value, so it matches (see the module docstring).
    return lambda metadata: metadata.get(key) != value
