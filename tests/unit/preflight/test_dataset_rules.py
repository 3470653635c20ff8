"""The whole-dataset rules on their own: Bedrock's record-count limits, and the bounded duplicate check."""

from __future__ import annotations

import pytest

from bedrock_distill.preflight.dataset_rules import (
    MAX_RECORDS,
    MIN_VALID_RECORDS,
    DuplicatePrompts,
    file_level_verdict,
)
from bedrock_distill.preflight.problems import WHOLE_FILE, ProblemLog, Severity

pytestmark = pytest.mark.unit

SOURCE = "train.jsonl"


@pytest.mark.parametrize(
    ("records", "valid", "reasons"),
    [
        pytest.param(MIN_VALID_RECORDS, MIN_VALID_RECORDS, [], id="exactly-the-minimum"),
        pytest.param(MAX_RECORDS, MAX_RECORDS, [], id="exactly-the-maximum"),
        pytest.param(
            MIN_VALID_RECORDS,
            MIN_VALID_RECORDS - 1,
            ["1 invalid records", "fewer than 100 valid records (99)"],
            id="one-valid-short",
        ),
        pytest.param(MAX_RECORDS + 1, MAX_RECORDS + 1, ["more than 15,000 records (15,001)"], id="one-record-over"),
    ],
)
def test_the_record_count_limits_are_inclusive(records: int, valid: int, reasons: list[str]) -> None:
    # Given a file with this many records, this many of them valid
    log = ProblemLog(None, 10)

    # When its file-level verdict is decided
    verdict_reasons = file_level_verdict(SOURCE, records, valid, log)

    # Then only a count past a limit is a reason, and each limit broken is one whole-file error
    assert verdict_reasons == reasons
    limits_broken = len([reason for reason in reasons if "invalid records" not in reason])
    assert [(p.line, p.severity) for p in log.kept] == [(WHOLE_FILE, Severity.ERROR)] * limits_broken


def test_duplicate_tracking_stops_at_its_limit_and_says_so_once() -> None:
    # Given a duplicate check that remembers two distinct prompts
    duplicates = DuplicatePrompts(SOURCE, tracking_limit=2)

    # When two prompts fill it, two more new ones arrive, and then the first prompt repeats
    found = [duplicates.check(fingerprint, line) for line, fingerprint in enumerate([11, 22, 33, 44, 11], start=1)]

    # Then the third new prompt gets the one warning that the check stops remembering, the fourth nothing,
    # and the remembered prompt is still recognized
    assert found[:2] == [None, None]
    assert found[2] is not None
    assert (found[2].line, found[2].field, found[2].severity) == (3, "(file)", Severity.WARNING)
    assert "covers the first 2 distinct prompts only" in found[2].reason
    assert found[3] is None
    assert found[4] is not None
    assert (found[4].line, found[4].reason) == (5, "duplicate prompt: identical to line 1")
    assert duplicates.found == 1
