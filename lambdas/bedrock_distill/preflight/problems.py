"""One problem found in an input, located precisely enough to fix it without searching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

# Problems that concern a whole file rather than one of its lines carry this line number.
WHOLE_FILE = 0


class Severity(StrEnum):
    ERROR = "error"  # Bedrock would reject or drop the data: the verdict is invalid
    WARNING = "warning"  # worth fixing, but Bedrock accepts it


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    field: str
    reason: str
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        """``PATH:LINE: FIELD: reason``, the shape editors and grep already understand."""
        marker = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.path}:{self.line}: {self.field}: {marker}{self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "severity": self.severity.value,
        }


ProblemCallback = Callable[[Problem], None]

# Reports keep this many problems; a broken 1 GB file would otherwise hold millions in memory.
# Callers that want all of them stream them through on_problem.
DEFAULT_KEPT_PROBLEMS = 1000


class ProblemLog:
    """Counts every problem, keeps the first few for the report and streams each to a callback."""

    def __init__(self, on_problem: ProblemCallback | None = None, keep: int = DEFAULT_KEPT_PROBLEMS) -> None:
        self._on_problem = on_problem
        self._keep = keep
        self.kept: list[Problem] = []
        self.errors = 0
        self.warnings = 0

    def add(self, problem: Problem) -> None:
        if problem.severity is Severity.ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        if len(self.kept) < self._keep:
            self.kept.append(problem)
        if self._on_problem is not None:
            self._on_problem(problem)

    def count_unkept(self, severity: Severity, count: int) -> None:
        """Counts problems that were found but dropped before reaching this log (a worker's own cap)."""
        if severity is Severity.ERROR:
            self.errors += count
        else:
            self.warnings += count

    @property
    def truncated(self) -> bool:
        return self.errors + self.warnings > len(self.kept)
