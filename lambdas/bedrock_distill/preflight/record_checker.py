"""Checks one JSONL line as a ``bedrock-conversation-2024`` record, applying each rule group in turn.

The line is parsed once with orjson; record_json.py's strict parser runs only when orjson fails, to say
precisely why, or when a cheap byte count says a key may be repeated, which orjson would otherwise hide
by keeping the last value. The record's fields are record_schema.py's rules, its turns conversation.py's.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from bedrock_distill.preflight.conversation import TurnRule, check_message, count_user_turns, messages_of
from bedrock_distill.preflight.issues import Issue, error, has_error, json_type
from bedrock_distill.preflight.record_json import (
    UNPARSEABLE,
    may_hold_control_character,
    may_repeat_a_key,
    strict_load,
    strip_bom,
)
from bedrock_distill.preflight.record_schema import check_schema_version, check_system, check_top_level_fields


class RecordShape(NamedTuple):
    """What a valid record contributes to the summary (a tuple: one is built per record)."""

    user_turns: int
    has_golden_answer: bool
    prompt_fingerprint: int
    input_characters: int


class RecordChecker:
    """Checks one JSONL line against the schema and the student's single-turn rule."""

    def __init__(self, student_model_id: str | None = None) -> None:
        self._turn_rule = TurnRule(student_model_id)

    def check_line(self, raw: bytes) -> tuple[list[Issue], RecordShape | None]:
        """The problems in one line, and its shape when it has no errors."""
        issues: list[Issue] = []
        raw = strip_bom(raw, issues)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            document = strict_load(raw, str(exc), issues)
            if document is UNPARSEABLE:
                return issues, None
            shape = self._check_document(document, issues, check_controls=True)[1]
        else:
            keys_seen, shape = self._check_document(document, issues, check_controls=may_hold_control_character(raw))
            if may_repeat_a_key(raw, keys_seen):
                strict_load(raw, "", issues)
        if issues and has_error(issues):
            return issues, None
        return issues, shape

    def _check_document(
        self, document: object, issues: list[Issue], *, check_controls: bool
    ) -> tuple[int, RecordShape | None]:
        """Checks the schema. Returns how many object keys it saw, and the record's shape."""
        if not isinstance(document, dict):
            issues.append(error("$", f"record must be a JSON object, got {json_type(document)}"))
            return 0, None
        check_top_level_fields(document, issues)
        check_schema_version(document, issues)
        system_keys, system_text = check_system(document, issues, check_controls)
        keys_seen = len(document) + system_keys

        messages = messages_of(document, issues)
        if messages is None:
            return keys_seen, None
        texts: list[str] = []
        for index, message in enumerate(messages):
            keys_seen += check_message(message, index, issues, texts, check_controls)
        user_turns = count_user_turns(messages, issues)
        if user_turns > 1:
            self._turn_rule.check(user_turns, issues)
        if issues and has_error(issues):
            return keys_seen, None

        has_golden_answer = len(messages) % 2 == 0
        # The golden answer is an example output, not part of the prompt the teacher receives.
        prompt_texts = texts[:-1] if has_golden_answer else texts
        if system_text is not None:
            prompt_texts.append(system_text)
        input_characters = sum(map(len, prompt_texts))
        shape = RecordShape(user_turns, has_golden_answer, hash(tuple(prompt_texts)), input_characters)
        return keys_seen, shape
