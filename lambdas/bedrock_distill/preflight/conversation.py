"""The turns of a record: ``messages`` alternate ``user``/``assistant`` starting with a user turn, each
message is exactly ``role`` and ``content``, and a Meta or Anthropic student takes one user turn only.

Amazon Bedrock User Guide, "Option 1: Provide your own prompts for data preparation"
(https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-1.html): the user
role holds the prompt, an optional assistant role the desired response; "Anthropic and Meta Llama models
support only single-turn conversation prompts", Amazon Nova multi-turn (the providers are in catalog.json).
"""

from __future__ import annotations

from typing import Any, Final

from bedrock_distill.catalog import requires_single_turn
from bedrock_distill.preflight.issues import Issue, error, json_type, member, shown, sized
from bedrock_distill.preflight.problems import Severity
from bedrock_distill.preflight.record_json import key_count
from bedrock_distill.preflight.record_schema import check_text_block

MESSAGE_FIELDS: Final = frozenset({"role", "content"})
ROLES: Final = ("user", "assistant")


class ConversationRules:
    """The rules for the messages, and the student's single-turn rule: more than one user turn is an error
    for Meta and Anthropic students, allowed for Amazon Nova, and a warning when no student is given."""

    def __init__(self, student_model_id: str | None = None) -> None:
        self._student_model_id = student_model_id
        # None: no student given, so multi-turn records are allowed but flagged.
        self._single_turn_required = None if student_model_id is None else requires_single_turn(student_model_id)

    def check(
        self, document: dict[str, Any], issues: list[Issue], texts: list[str], check_controls: bool
    ) -> tuple[int, int] | None:
        """Checks the messages, appending each one's text to ``texts``. Returns the keys seen in them (for
        the repeated-key count) and the user turns, or None when there are no messages to check."""
        if "messages" not in document:
            issues.append(error("messages", "missing; a record needs at least one user message"))
            return None
        messages = document["messages"]
        if not isinstance(messages, list):
            issues.append(error("messages", f"must be a list of messages, got {json_type(messages)}"))
            return None
        if not messages:
            issues.append(error("messages", "empty; a record needs at least one user message"))
            return None
        keys_seen = 0
        for index, message in enumerate(messages):
            keys_seen += _check_message(message, index, issues, texts, check_controls)
        # In a record without problems roles alternate from user, so every even position is a user turn;
        # otherwise the roles must be counted (user, assistant, assistant is one user turn, not two).
        user_turns = _user_turns(messages) if issues else (len(messages) + 1) // 2
        if user_turns > 1:
            self._check_turns(user_turns, issues)
        return keys_seen, user_turns

    def _check_turns(self, user_turns: int, issues: list[Issue]) -> None:
        if self._single_turn_required is False:
            return
        if self._single_turn_required:
            issues.append(
                error(
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


def _check_message(message: object, index: int, issues: list[Issue], texts: list[str], check_controls: bool) -> int:
    """Checks one message, appends its text and returns its key count. An unusable text is appended
    as "" to keep positions; its record has an error, so no shape is built from it."""
    if not isinstance(message, dict):
        issues.append(error(f"messages[{index}]", f"must be an object with role and content, got {json_type(message)}"))
        texts.append("")
        return 0
    keys_seen = len(message)
    if not message.keys() <= MESSAGE_FIELDS:
        issues.extend(
            error(member(f"messages[{index}]", name), "unknown field (allowed: role, content)")
            for name in message
            if name not in MESSAGE_FIELDS
        )
    expected = ROLES[index % 2]
    role = message.get("role")
    if role != expected:
        issues.append(error(f"messages[{index}].role", _role_reason(message, role, expected, index)))
    if "content" not in message:
        issues.append(error(f"messages[{index}].content", "missing"))
        texts.append("")
        return keys_seen
    content = message["content"]
    if not isinstance(content, list) or len(content) != 1:
        issues.append(
            error(
                f"messages[{index}].content",
                f'must be a list of exactly one {{"text": ...}}, got {sized(content)}',
            )
        )
        texts.append("")
        return keys_seen
    keys_seen += key_count(content[0])
    texts.append(check_text_block(content[0], index, issues, check_controls) or "")
    return keys_seen


def _user_turns(messages: list[Any]) -> int:
    return sum(isinstance(message, dict) and message.get("role") == "user" for message in messages)


def _role_reason(message: dict[str, Any], role: object, expected: str, index: int) -> str:
    if "role" not in message:
        return f"missing; expected {expected!r}"
    if role not in ROLES:
        hint = " (roles are case-sensitive)" if isinstance(role, str) and role.lower() in ROLES else ""
        return f"must be 'user' or 'assistant', got {shown(role)}{hint}"
    if index == 0:
        return f"messages must start with a user turn, got {role!r}"
    return f"roles must alternate user/assistant: expected {expected!r} after {ROLES[(index - 1) % 2]!r}, got {role!r}"
