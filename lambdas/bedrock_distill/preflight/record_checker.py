"""Checks one JSONL line as a ``bedrock-conversation-2024`` record, applying each rule group in turn.

The line is parsed once with orjson; record_json.py's strict parser runs only when orjson fails, to say
precisely why, or when a cheap byte count says a key may be repeated, which orjson would otherwise hide
by keeping the last value. The record's fields are record_schema.py's rules, its turns conversation.py's.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from bedrock_distill.preflight.conversation import ConversationRules
from bedrock_distill.preflight.issues import Issue, error, has_error, json_type
from bedrock_distill.preflight.record_json import (
    BOM,
    UNPARSEABLE,
    may_hold_control_character,
    may_repeat_a_key,
    strict_load,
    strip_bom,
)
from bedrock_distill.preflight.record_schema import check_record_fields


class RecordShape(NamedTuple):
    """What a valid record contributes to the summary (a tuple: one is built per record)."""

    user_turns: int
    has_golden_answer: bool
    prompt_fingerprint: int
    input_characters: int


class RecordChecker:
    """Checks one JSONL line against the schema and the student's single-turn rule."""

    def __init__(self, student_model_id: str | None = None) -> None:
        self._conversation = ConversationRules(student_model_id)

    def check_line(self, raw: bytes) -> tuple[list[Issue], RecordShape | None]:
        """The problems in one line, and its shape when it has no errors."""
        issues: list[Issue] = []
        if raw.startswith(BOM):
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
        system_keys, system_text = check_record_fields(document, issues, check_controls)
        keys_seen = len(document) + system_keys
        texts: list[str] = []
        turns = self._conversation.check(document, issues, texts, check_controls)
        if turns is None:
            return keys_seen, None
        message_keys, user_turns = turns
        keys_seen += message_keys
        if issues and has_error(issues):
            return keys_seen, None

        # texts holds one entry per message.
        has_golden_answer = len(texts) % 2 == 0
        # The golden answer is an example output, not part of the prompt the teacher receives.
        prompt_texts = texts[:-1] if has_golden_answer else texts
        if system_text is not None:
            prompt_texts.append(system_text)
        input_characters = sum(map(len, prompt_texts))
        shape = RecordShape(user_turns, has_golden_answer, hash(tuple(prompt_texts)), input_characters)
        return keys_seen, shape
