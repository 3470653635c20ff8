"""What every preflight report shares: a verdict decided by its errors, and the problems it kept."""

from __future__ import annotations

from typing import Any

from bedrock_distill.preflight.problems import Problem


class Verdict:
    """Mixed into a frozen report dataclass that declares these fields (a plain class, so the dataclass
    keeps its own field order)."""

    errors: int
    warnings: int
    verdict_reasons: list[str]
    problems: list[Problem]
    problems_truncated: bool

    @property
    def is_valid(self) -> bool:
        return self.errors == 0

    @property
    def verdict(self) -> str:
        return "valid" if self.is_valid else "invalid"

    def verdict_fields(self) -> dict[str, Any]:
        """The report's JSON fields that come from its verdict, in the order reports give them."""
        return {
            "errors": self.errors,
            "warnings": self.warnings,
            "verdict": self.verdict,
            "verdict_reasons": self.verdict_reasons,
            "problems": [problem.to_dict() for problem in self.problems],
            "problems_truncated": self.problems_truncated,
        }
