"""The fields of a ``bedrock-conversation-2024`` record, and the text blocks that hold its words.

A record is one JSON object with ``schemaVersion``, an optional ``system`` prompt and ``messages``
(Amazon Bedrock User Guide, "Option 1: Provide your own prompts for data preparation",
https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-1.html). The turns
inside ``messages`` are conversation.py's rules.
"""

from __future__ import annotations

import re
from typing import Any, Final

from bedrock_distill.preflight.issues import Issue, error, json_type, member, shown, sized
from bedrock_distill.preflight.record_json import key_count

SCHEMA_VERSION: Final = "bedrock-conversation-2024"
# The same user-guide page says schemaVersion "must have the value bedrock-conversion-2024" while its own
# example spells it correctly; Bedrock rejects the typo.
DOCUMENTED_SCHEMA_TYPO: Final = "bedrock-conversion-2024"
TOP_LEVEL_FIELDS: Final = frozenset({"schemaVersion", "system", "messages"})
# Unicode category Cc except tab, LF and CR.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_record_fields(document: dict[str, Any], issues: list[Issue], check_controls: bool) -> tuple[int, str | None]:
    """Checks the record's fields other than messages. Returns the keys of the system prompt's block (for
    the repeated-key count) and the system prompt's text when it is usable."""
    if not document.keys() <= TOP_LEVEL_FIELDS:
        issues.extend(
            error(member("$", name), "unknown top-level field (allowed: schemaVersion, system, messages)")
            for name in document
            if name not in TOP_LEVEL_FIELDS
        )
    _check_schema_version(document, issues)
    if "system" not in document:
        return 0, None
    # The optional system prompt must be a list of exactly one text block.
    system = document["system"]
    if not isinstance(system, list) or len(system) != 1:
        issues.append(error("system", f'must be a list of exactly one {{"text": ...}}, got {sized(system)}'))
        return 0, None
    return key_count(system[0]), check_text_block(system[0], None, issues, check_controls)


def _check_schema_version(document: dict[str, Any], issues: list[Issue]) -> None:
    version = document.get("schemaVersion")
    if version == SCHEMA_VERSION:
        return
    if "schemaVersion" not in document:
        issues.append(error("schemaVersion", f"missing; must be {SCHEMA_VERSION!r}"))
    elif version == DOCUMENTED_SCHEMA_TYPO:
        issues.append(
            error(
                "schemaVersion",
                f"{version!r} is a typo copied from the Bedrock user guide; must be {SCHEMA_VERSION!r}",
            )
        )
    else:
        issues.append(error("schemaVersion", f"must be exactly {SCHEMA_VERSION!r}, got {shown(version)}"))


def check_text_block(block: object, message_index: int | None, issues: list[Issue], check_controls: bool) -> str | None:
    """A block must be exactly {"text": <non-blank string>}. Returns the text when it is usable.

    Distillation takes text only: the students support the text-to-text modality alone (User Guide,
    "Prepare your training datasets for distillation", section "Supported modalities for distillation",
    https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-prepare-datasets.html).
    The block is system[0] when message_index is None; its path is only built for a problem.
    ``check_controls`` is False when the raw line cannot hold a control character (record_json.py).
    """
    if not isinstance(block, dict):
        issues.append(
            error(text_block_path(message_index), f'must be an object {{"text": ...}}, got {json_type(block)}')
        )
        return None
    if len(block) != 1 or "text" not in block:
        issues.extend(
            error(
                member(text_block_path(message_index), name),
                'only {"text": ...} blocks are supported; unexpected field',
            )
            for name in block
            if name != "text"
        )
        if "text" not in block:
            issues.append(error(f"{text_block_path(message_index)}.text", "missing"))
            return None
    text = block["text"]
    if not isinstance(text, str):
        issues.append(error(f"{text_block_path(message_index)}.text", f"must be a string, got {json_type(text)}"))
        return None
    if not text or text.isspace():
        issues.append(error(f"{text_block_path(message_index)}.text", "empty or whitespace-only text"))
        return None
    control = _CONTROL_CHARACTER.search(text) if check_controls else None
    if control:
        issues.append(
            error(
                f"{text_block_path(message_index)}.text",
                f"control character U+{ord(control.group()):04X} at character {control.start()} "
                "(only tab, LF and CR are allowed)",
            )
        )
        return None
    return text


def text_block_path(message_index: int | None) -> str:
    return "system[0]" if message_index is None else f"messages[{message_index}].content[0]"
