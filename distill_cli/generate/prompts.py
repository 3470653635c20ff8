"""The prompts `distill generate-logs` sends: reading and checking a prompts file, and the requestMetadata
that tags their invocation logs so a distillation filter can select them.

A prompt is identified by its line in the file and the SHA-256 of that line, so a progress file can tell
which prompts were already sent even after the file was edited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from bedrock_distill.preflight import Problem, Severity, check_filter, validate_dataset
from bedrock_distill.preflight.problems import WHOLE_FILE
from bedrock_distill.preflight.sources import SourceError
from distill_cli.errors import OperatorError

PromptFormat = Literal["jsonl", "text"]
JSONL_SUFFIXES: Final = (".jsonl", ".json")
MAX_METADATA_PAIRS: Final = 16


@dataclass(frozen=True)
class Prompt:
    """One prompt, identified by its line in the file and the digest of that line."""

    line: int
    digest: str
    messages: list[dict[str, Any]]
    system: str | None = None

    @property
    def key(self) -> tuple[int, str]:
        return self.line, self.digest


def prompt_format(path: str, requested: str = "auto") -> PromptFormat:
    if requested == "jsonl":
        return "jsonl"
    if requested == "text":
        return "text"
    return "jsonl" if path.lower().endswith(JSONL_SUFFIXES) else "text"


def check_prompts(path: str, fmt: PromptFormat, on_problem: Callable[[Problem], None]) -> int:
    """The number of invalid records in a JSONL prompts file, by the preflight validator's errors (minus the
    whole-file counts a training set needs); text files need no check beyond UTF-8, which reading them checks."""
    if fmt == "text":
        return 0
    invalid_lines: set[int] = set()

    def keep(problem: Problem) -> None:
        if problem.line == WHOLE_FILE:
            return
        if problem.severity is Severity.ERROR:
            invalid_lines.add(problem.line)
        on_problem(problem)

    validate_dataset(path, on_problem=keep)
    return len(invalid_lines)


def read_prompts(path: str, fmt: PromptFormat, system: str | None = None) -> Iterator[Prompt]:
    """The prompts of a file, in order. Blank lines are skipped but counted, so line numbers match the file.

    text: one prompt per line, sent as a single user turn (``system`` as the system prompt).
    jsonl: bedrock-conversation-2024 records; the turns up to the last user turn are sent, a trailing
    assistant turn (a golden answer) is not, and the record's system prompt wins over ``system``.
    """
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                body = raw.rstrip(b"\r\n")
                if not body.strip():
                    continue
                digest = hashlib.sha256(body).hexdigest()
                try:
                    yield _prompt(number, digest, body, fmt, system)
                except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as error:
                    raise SourceError(f"{path}:{number}: not a {fmt} prompt: {error}") from error
    except OSError as error:
        raise SourceError(f"{path}: {error.strerror or error}") from error


def _prompt(number: int, digest: str, body: bytes, fmt: PromptFormat, system: str | None) -> Prompt:
    if fmt == "text":
        return Prompt(number, digest, [{"role": "user", "content": [{"text": body.decode("utf-8")}]}], system)
    record = json.loads(body)
    messages = record["messages"]
    last_user = max(index for index, message in enumerate(messages) if message["role"] == "user")
    record_system = record.get("system") or []
    return Prompt(number, digest, messages[: last_user + 1], record_system[0]["text"] if record_system else system)


def check_metadata(pairs: Mapping[str, str]) -> list[str]:
    """Why this requestMetadata would not make logs a distillation filter can select; empty when fine.

    Converse accepts '#' and ',' too, but requestMetadataFilters do not: metadata that no filter can
    match would produce logs no job can use, so the filter's rules (the preflight checker) apply.
    """
    if not pairs:
        return ["give at least one --metadata KEY=VALUE: it is what a distillation filter selects these logs by"]
    problems = []
    if len(pairs) > MAX_METADATA_PAIRS:
        problems.append(f"{len(pairs)} metadata pairs; Converse accepts at most {MAX_METADATA_PAIRS}")
    for key, value in pairs.items():
        problems += [
            f"--metadata {key}={value}: {violation.reason}" for violation in check_filter({"equals": {key: value}})
        ]
    return problems


def parse_metadata(arguments: Iterable[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for argument in arguments:
        key, separator, value = argument.partition("=")
        if not separator:
            raise OperatorError(f"--metadata {argument!r}: expected KEY=VALUE")
        if key in pairs:
            raise OperatorError(f"--metadata {key}: given twice")
        pairs[key] = value
    return pairs
