"""Deterministic Converse answers: the same request to the same model always reads the same."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

_OPENINGS = (
    "In short,",
    "The key point is that",
    "Put simply,",
    "A practical answer is that",
    "Looking at it closely,",
    "The evidence suggests that",
)
_CLAIMS = (
    "{topic} matters most here.",
    "{topic} should be checked first.",
    "{topic} depends on the surrounding context.",
    "{topic} can be broken into smaller steps.",
    "{topic} is easier to reason about with an example.",
    "{topic} rewards a careful second look.",
    "{topic} works best when kept simple.",
)
_STOP_WORDS = {"what", "which", "about", "there", "their", "would", "could", "should", "please", "explain"}
_TERM = re.compile(r"[A-Za-z][A-Za-z-]{4,}")
# The stock phrasing every answer wraps its topics in: carries no meaning of its own.
_FILLER = frozenset(word.lower() for phrase in (*_OPENINGS, *_CLAIMS, "the question") for word in _TERM.findall(phrase))


def estimate_tokens(text: str) -> int:
    """Roughly four characters a token, as for English text in most tokenizers."""
    return max(1, (len(text) + 3) // 4)


def prompt_text(params: dict[str, Any]) -> str:
    blocks = [*params.get("system", []), *(block for m in params.get("messages", []) for block in m["content"])]
    return "\n".join(block["text"] for block in blocks if "text" in block)


def answer(params: dict[str, Any], *, on_topic: bool = True) -> tuple[str, str]:
    """The (text, stopReason) for a Converse request, seeded by everything that shapes an answer. Off topic, it
    names none of the prompt's topics: the answer of a model that missed the point."""
    seed = json.dumps(
        [params["modelId"], params.get("system"), params.get("messages"), params.get("inferenceConfig")],
        sort_keys=True,
        default=repr,
    )
    picks = _picks(seed)
    topics = (_topics(params) if on_topic else []) or ["the question"]
    sentences = [
        f"{_OPENINGS[next(picks) % len(_OPENINGS)]} "
        + _CLAIMS[next(picks) % len(_CLAIMS)].format(topic=topics[next(picks) % len(topics)])
        for _ in range(2 + next(picks) % 4)
    ]
    text = " ".join(sentences)
    max_tokens = params.get("inferenceConfig", {}).get("maxTokens")
    if max_tokens is not None and estimate_tokens(text) > max_tokens:
        return text[: max_tokens * 4].rsplit(" ", 1)[0], "max_tokens"
    return text, "end_turn"


def draw(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`: a deterministic coin for per-prompt decisions."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def key_terms(text: str) -> set[str]:
    """The words a text is about, as `answer` picks its topics, without the stock phrasing answers wrap them in."""
    return {word.lower() for word in _TERM.findall(text)} - _STOP_WORDS - _FILLER


def prompt_topics(prompt: str) -> list[str]:
    """The topics an on-topic answer to `prompt` draws from, in order of appearance."""
    words = [w.lower() for w in _TERM.findall(prompt)]
    return list(dict.fromkeys(w for w in words if w not in _STOP_WORDS))[:6]


def _topics(params: dict[str, Any]) -> list[str]:
    user_turns = [m for m in params.get("messages", []) if m["role"] == "user"]
    last_prompt = " ".join(block.get("text", "") for block in user_turns[-1]["content"]) if user_turns else ""
    return prompt_topics(last_prompt)


def _picks(seed: str) -> Iterator[int]:
    counter = 0
    while True:
        yield from hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
