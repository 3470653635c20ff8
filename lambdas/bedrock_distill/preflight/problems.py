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
    # Non-zero only on a summary line: how many repeats of the same problem it stands for.
    omitted: int = 0

    def render(self) -> str:
        """``PATH:LINE: FIELD: reason``, the shape editors and grep already understand."""
        marker = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.path}:{self.line}: {self.field}: {marker}{self.reason}"

    def to_dict(self) -> dict[str, object]:
        document: dict[str, object] = {
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "severity": self.severity.value,
        }
        if self.omitted:
            document["omitted"] = self.omitted
        return document


ProblemCallback = Callable[[Problem], None]

# Reports keep this many problems; a broken 1 GB file would otherwise hold millions in memory.
# Callers that want all of them stream them through on_problem.
DEFAULT_KEPT_PROBLEMS = 1000

# Where people read problems (the CLI, the Preflight report), a problem repeated on many lines is shown
# on this many of them, then summarized in one line; the counts still include every repeat.
REPEATS_SHOWN = 3
# Distinct problems tracked for summarizing; beyond them (a file of all-different problems) new ones are
# shown unsummarized, so memory stays bounded.
_TRACKED_REPEATS = 10_000

_RepeatKey = tuple[str, str, str, Severity]


class _Repeats:
    """How often one problem (same path, field, reason and severity) was seen after its shown lines."""

    __slots__ = ("first_line", "last_line", "seen")

    def __init__(self) -> None:
        self.seen = 0
        self.first_line = 0
        self.last_line = 0


class ProblemLog:
    """Counts every problem, keeps the first few for the report and streams each to a callback.

    With ``repeats_shown``, a problem that repeats on many lines is passed on for its first
    ``repeats_shown`` lines only; ``finish()`` then adds one summary problem for the rest.
    """

    def __init__(
        self,
        on_problem: ProblemCallback | None = None,
        keep: int = DEFAULT_KEPT_PROBLEMS,
        *,
        repeats_shown: int | None = None,
    ) -> None:
        self._on_problem = on_problem
        self._keep = keep
        self._repeats_shown = repeats_shown
        self._repeats: dict[_RepeatKey, _Repeats] = {}
        self._represented = 0  # problems the kept ones stand for, summaries counting their repeats
        self.kept: list[Problem] = []
        self.errors = 0
        self.warnings = 0

    def add(self, problem: Problem) -> None:
        if problem.severity is Severity.ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        if self._repeats_shown is not None and self._is_summarized(problem):
            return
        self._pass_on(problem)

    def _is_summarized(self, problem: Problem) -> bool:
        key = (problem.path, problem.field, problem.reason, problem.severity)
        repeats = self._repeats.get(key)
        if repeats is None:
            if len(self._repeats) >= _TRACKED_REPEATS:
                return False
            repeats = self._repeats[key] = _Repeats()
        repeats.seen += 1
        if self._repeats_shown is None or repeats.seen <= self._repeats_shown:
            return False
        if repeats.first_line == 0:
            repeats.first_line = problem.line
        repeats.last_line = problem.line
        return True

    def _pass_on(self, problem: Problem) -> None:
        if len(self.kept) < self._keep:
            self.kept.append(problem)
            self._represented += problem.omitted or 1
        if self._on_problem is not None:
            self._on_problem(problem)

    def finish(self) -> None:
        """Adds one summary problem for each problem that repeated beyond the lines shown."""
        shown = self._repeats_shown or 0
        for (path, field, _, severity), repeats in self._repeats.items():
            omitted = repeats.seen - shown
            if omitted <= 0:
                continue
            lines = f"line {repeats.first_line}" if omitted == 1 else f"lines {repeats.first_line}-{repeats.last_line}"
            reason = f"... and {omitted:,} more {'line' if omitted == 1 else 'lines'} with this problem ({lines})"
            self._pass_on(Problem(path, repeats.first_line, field, reason, severity, omitted))
        self._repeats.clear()

    def count_unkept(self, severity: Severity, count: int) -> None:
        """Counts problems that were found but dropped before reaching this log (a worker's own cap)."""
        if severity is Severity.ERROR:
            self.errors += count
        else:
            self.warnings += count

    @property
    def truncated(self) -> bool:
        return self.errors + self.warnings > self._represented
