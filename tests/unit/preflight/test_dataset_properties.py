"""Property-based: every valid record passes, and any single mutation of one is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedrock_distill.preflight import Severity
from bedrock_distill.preflight.dataset import RecordChecker

pytestmark = pytest.mark.unit

NOVA = RecordChecker("amazon.nova-lite-v1:0")  # allows multi-turn, so every generated shape is valid

# Any Unicode text except control characters (tab, LF and CR are allowed) and surrogates, not blank.
_allowed_characters = st.characters(
    exclude_categories=["Cs"], exclude_characters=[chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]
) | st.sampled_from(["\t", "\n", "\r", '"', "\\", ":"])
texts = st.text(_allowed_characters, min_size=1, max_size=40).filter(lambda text: not text.isspace())


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    turns = draw(st.integers(min_value=1, max_value=5))
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    if draw(st.booleans()):
        record["system"] = [{"text": draw(texts)}]
    record["messages"] = [
        {"role": ("user", "assistant")[index % 2], "content": [{"text": draw(texts)}]} for index in range(turns)
    ]
    keys = draw(st.permutations(list(record)))
    return {key: record[key] for key in keys}


@st.composite
def encodings(draw: st.DrawFn, record: dict[str, Any]) -> bytes:
    """The same record as different writers would emit it: orjson, or json with any separators."""
    style = draw(st.sampled_from(["orjson", "ascii", "spaced", "pretty-separators"]))
    if style == "orjson":
        return orjson.dumps(record)
    separators = {"ascii": (",", ":"), "spaced": (", ", ": "), "pretty-separators": (" ,\t", " : ")}[style]
    return json.dumps(record, ensure_ascii=style == "ascii", separators=separators).encode()


def _errors(raw: bytes) -> list[tuple[str, str]]:
    issues, _ = NOVA.check_line(raw)
    return [(field, reason) for field, reason, severity in issues if severity is Severity.ERROR]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_valid_records_always_pass(data: st.DataObject) -> None:
    # Given any valid record, written any valid way
    raw = data.draw(encodings(data.draw(records())))

    # When it is checked, Then it has no errors and a shape
    issues, shape = NOVA.check_line(raw)
    assert [issue for issue in issues if issue[2] is Severity.ERROR] == []
    assert shape is not None


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.pop(key)


def _set_text(value: object, where: str = "user") -> Callable[[dict[str, Any]], None]:
    def mutate(record: dict[str, Any]) -> None:
        target = (
            record["system"][0] if where == "system" and "system" in record else record["messages"][0]["content"][0]
        )
        target["text"] = value

    return mutate


def _set_role(role: str) -> Callable[[dict[str, Any]], None]:
    return lambda record: record["messages"][0].update(role=role)


RECORD_MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "drop schemaVersion": _drop("schemaVersion"),
    "drop messages": _drop("messages"),
    "schema typo": lambda record: record.update(schemaVersion="bedrock-conversion-2024"),
    "unknown field": lambda record: record.update(extra=1),
    "empty messages": lambda record: record.update(messages=[]),
    "capitalised role": _set_role("User"),
    "assistant first": _set_role("assistant"),
    "empty text": _set_text(""),
    "blank text": _set_text(" \n "),
    "control character": _set_text("a\x01b"),
    "C1 control character": _set_text("a\x9bb"),
    "number text": _set_text(7),
    "two content blocks": lambda record: record["messages"][0]["content"].append({"text": "more"}),
    "image block": lambda record: record["messages"][0]["content"][0].update(image={}),
    "system string": lambda record: record.update(system="plain"),
    "system control character": _set_text("\x0b", where="system"),
    "repeated user turn": lambda record: record["messages"].insert(1, dict(record["messages"][0])),
}

RAW_MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "BOM": lambda raw: b"\xef\xbb\xbf" + raw,
    "truncated": lambda raw: raw[:-1],
    "trailing garbage": lambda raw: raw + b" x",
    "invalid UTF-8": lambda raw: raw.replace(b'"messages"', b'"messages\xff"', 1),
    "duplicate key": lambda raw: raw.replace(b"{", b'{"schemaVersion":"bedrock-conversation-2024",', 1),
    "NaN": lambda raw: raw.replace(b"{", b'{"n":NaN,', 1),
    "lone surrogate": lambda raw: raw.replace(b'"role"', b'"role\\udfff"', 1),
}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), mutation=st.sampled_from(sorted(RECORD_MUTATIONS)))
def test_any_single_record_mutation_is_caught(data: st.DataObject, mutation: str) -> None:
    # Given a valid record with one structural mutation
    record = data.draw(records())
    RECORD_MUTATIONS[mutation](record)

    # When it is checked, however it is written, Then it has an error
    assert _errors(data.draw(encodings(record))), mutation


@settings(max_examples=200, deadline=None)
@given(data=st.data(), mutation=st.sampled_from(sorted(RAW_MUTATIONS)))
def test_any_single_byte_level_mutation_is_caught(data: st.DataObject, mutation: str) -> None:
    # Given a valid record's bytes with one byte-level mutation
    raw = RAW_MUTATIONS[mutation](data.draw(encodings(data.draw(records()))))

    # When it is checked, Then it has an error
    assert _errors(raw), mutation
