"""The progress file of `distill generate-logs`: which prompts already reached the invocation logs.

Every prompt that succeeds is appended to the file (its line number and the SHA-256 of the line) and
flushed before the next result is handled. A rerun skips what the file lists, so a run stopped by
Ctrl-C, a fatal error or a crash resumes without calling Converse again for a prompt that already
reached the logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Final

from distill_cli.errors import OperatorError
from distill_cli.generate.prompts import Prompt

PROGRESS_KIND: Final = "bedrock-distill generate-logs progress"


class ProgressFile:
    """Append-only: a header naming the teacher and metadata, then one JSON line per prompt sent."""

    def __init__(self, path: Path, teacher_model_id: str, request_metadata: Mapping[str, str]) -> None:
        self.path = path
        self._header = {
            "kind": PROGRESS_KIND,
            "version": 1,
            "teacherModelId": teacher_model_id,
            "requestMetadata": dict(sorted(request_metadata.items())),
        }
        self._handle: IO[str] | None = None

    def open(self) -> set[tuple[int, str]]:
        """Opens for appending; the prompts already sent. Raises OperatorError for another run's file."""
        done: set[tuple[int, str]] = set()
        needs_newline = False
        if self.path.exists() and self.path.stat().st_size > 0:
            text = self.path.read_text(encoding="utf-8")
            lines = text.splitlines()
            header = _json_line(lines[0])
            if header is None or header.get("kind") != PROGRESS_KIND:
                raise OperatorError(f"{self.path} is not a generate-logs progress file; pass another --progress-file")
            if {key: header.get(key) for key in ("teacherModelId", "requestMetadata")} != {
                key: self._header[key] for key in ("teacherModelId", "requestMetadata")
            }:
                raise OperatorError(
                    f"{self.path} records a run with teacher {header.get('teacherModelId')} and metadata "
                    f"{header.get('requestMetadata')}; this run differs: pass another --progress-file, "
                    "or delete it to start over"
                )
            for number, line in enumerate(lines[1:], start=2):
                entry = _json_line(line)
                if entry is None:
                    if number == len(lines):  # a write cut short by a crash: that prompt was not recorded
                        continue
                    raise OperatorError(f"{self.path}:{number}: not a progress record; fix or delete the file")
                done.add((int(entry["line"]), str(entry["sha256"])))
            needs_newline = not text.endswith("\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if needs_newline:
            self._handle.write("\n")
        if not done and self.path.stat().st_size == 0:
            self._write(self._header)
        return done

    def record(self, prompt: Prompt, request_id: str | None) -> None:
        entry: dict[str, Any] = {"line": prompt.line, "sha256": prompt.digest}
        if request_id:
            entry["requestId"] = request_id
        self._write(entry)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, document: Mapping[str, Any]) -> None:
        assert self._handle is not None, "open() first"
        self._handle.write(json.dumps(document) + "\n")
        self._handle.flush()


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        document = json.loads(line)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def default_progress_path(prompts_path: str) -> Path:
    return Path(f"{prompts_path}.progress")


def prompt_keys(prompts: Iterable[Prompt]) -> set[tuple[int, str]]:
    """The identity of every prompt in the file. A progress entry for a line since edited matches none
    of them: it is not counted as done, and the edited prompt is sent."""
    return {prompt.key for prompt in prompts}
