"""Rules about a dataset as a whole: how many records a job takes, and prompts repeated across records."""

from __future__ import annotations

from typing import Final

from bedrock_distill.preflight.problems import WHOLE_FILE, Problem, ProblemLog, Severity

# A distillation job takes at least 100 and at most 15,000 prompts or prompt-response pairs (Amazon Nova
# User Guide, "Preparing data for distilling understanding models", table "Dataset limits",
# https://docs.aws.amazon.com/nova/latest/userguide/custom-distill-prepare.html). Bedrock drops invalid
# records before it counts, so the minimum applies to valid records.
MAX_RECORDS: Final = 15_000
MIN_VALID_RECORDS: Final = 100
# Remembering every prompt would make memory grow with the file. Beyond this many distinct prompts
# (several times the 15,000 a job can use) new prompts are no longer remembered.
DUPLICATE_TRACKING_LIMIT: Final = 100_000


def file_level_verdict(source: str, records: int, valid: int, log: ProblemLog) -> list[str]:
    """Adds the whole-file problems to the log and returns every reason the verdict is invalid."""
    verdict_reasons = []
    if records > valid:
        verdict_reasons.append(f"{records - valid:,} invalid records")
    if records > MAX_RECORDS:
        reason = f"{records:,} records; Bedrock accepts at most {MAX_RECORDS:,} per job"
        log.add(Problem(source, WHOLE_FILE, "(file)", reason))
        verdict_reasons.append(f"more than {MAX_RECORDS:,} records ({records:,})")
    if valid < MIN_VALID_RECORDS:
        reason = (
            f"only {valid:,} valid records; distillation needs at least {MIN_VALID_RECORDS} "
            "(Bedrock drops invalid records before counting)"
        )
        log.add(Problem(source, WHOLE_FILE, "(file)", reason))
        verdict_reasons.append(f"fewer than {MIN_VALID_RECORDS} valid records ({valid:,})")
    return verdict_reasons


class DuplicatePrompts:
    """Remembers where each distinct prompt first appeared, up to ``tracking_limit`` of them. A repeated
    prompt (same system prompt and turns, golden answer excluded) is a warning, not an error."""

    def __init__(self, source: str, tracking_limit: int = DUPLICATE_TRACKING_LIMIT) -> None:
        self._source = source
        self._tracking_limit = tracking_limit
        self._first_line: dict[int, int] = {}
        self._stopped = False
        self.found = 0

    def check(self, fingerprint: int, line_number: int) -> Problem | None:
        first_line = self._first_line.get(fingerprint)
        if first_line is not None:
            self.found += 1
            reason = f"duplicate prompt: identical to line {first_line}"
            return Problem(self._source, line_number, "messages", reason, Severity.WARNING)
        if len(self._first_line) < self._tracking_limit:
            self._first_line[fingerprint] = line_number
            return None
        if self._stopped:
            return None
        self._stopped = True
        reason = (
            f"the duplicate-prompt check covers the first {self._tracking_limit:,} distinct prompts only, "
            "to keep memory bounded"
        )
        return Problem(self._source, line_number, "(file)", reason, Severity.WARNING)
