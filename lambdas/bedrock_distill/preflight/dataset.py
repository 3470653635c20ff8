"""A strict, streaming validator for ``bedrock-conversation-2024`` JSONL training data.

Bedrock silently drops records it cannot use, and AWS's sample validator accepts several it should
not (see docs/preflight.md). validate_dataset streams a file line by line and applies the rule groups,
each in its own module:

- record_json.py: JSON-level rules (strict JSON in UTF-8, no BOM, NaN, lone surrogate or repeated key);
- record_schema.py: the record's fields (schemaVersion, system, text-only blocks, control characters);
- conversation.py: the turns (roles alternating from user, the student's single-turn rule);
- size_limits.py: the per-record size limit and the token estimate;
- dataset_rules.py: the whole file (15,000 records at most, 100 valid at least, repeated prompts);
- record_checker.py applies the first three to one line; file_format.py recognizes files in another format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.preflight.dataset_rules import (
    MAX_RECORDS,
    MIN_VALID_RECORDS,
    DuplicatePrompts,
    file_level_verdict,
)
from bedrock_distill.preflight.file_format import HEAD_BYTES, FileFormat, recognize_file_format
from bedrock_distill.preflight.issues import json_type, sized
from bedrock_distill.preflight.problems import (
    DEFAULT_KEPT_PROBLEMS,
    Problem,
    ProblemCallback,
    ProblemLog,
    Severity,
)
from bedrock_distill.preflight.record_checker import RecordChecker
from bedrock_distill.preflight.record_schema import SCHEMA_VERSION
from bedrock_distill.preflight.size_limits import (
    CHARS_PER_TOKEN,
    MAX_RECORD_BYTES,
    RECORD_SIZE_REASON,
    estimated_tokens,
    oversize_reason,
)
from bedrock_distill.preflight.sources import (
    OversizeLine,
    iter_lines,
    open_stream,
    paused_garbage_collection,
)
from bedrock_distill.preflight.verdict import Verdict

# The rule groups' names that callers (distill convert, the hold-out split, the CLI) import from here.
__all__ = [
    "CHARS_PER_TOKEN",
    "MAX_RECORDS",
    "MAX_RECORD_BYTES",
    "MIN_VALID_RECORDS",
    "RECORD_SIZE_REASON",
    "SCHEMA_VERSION",
    "DatasetReport",
    "RecordChecker",
    "json_type",
    "sized",
    "validate_dataset",
]

# A file-level diagnosis points at the file's first line, where an editor opens it.
FIRST_LINE: Final = 1


@dataclass(frozen=True)
class DatasetReport(Verdict):
    source: str
    student_model_id: str | None
    records: int
    valid: int
    invalid: int
    blank_lines: int
    single_turn: int
    multi_turn: int
    with_golden_answer: int
    duplicate_prompts: int
    estimated_input_tokens: int
    errors: int
    warnings: int
    verdict_reasons: list[str]
    problems: list[Problem] = field(repr=False)
    problems_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "student_model_id": self.student_model_id,
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid,
            "blank_lines": self.blank_lines,
            "single_turn": self.single_turn,
            "multi_turn": self.multi_turn,
            "with_golden_answer": self.with_golden_answer,
            "duplicate_prompts": self.duplicate_prompts,
            "estimated_input_tokens": self.estimated_input_tokens,
            "token_estimate_method": f"characters / {CHARS_PER_TOKEN}",
            **self.verdict_fields(),
        }


def validate_dataset(
    source: str,
    student_model_id: str | None = None,
    *,
    s3: S3Gateway | None = None,
    on_problem: ProblemCallback | None = None,
    keep_problems: int = DEFAULT_KEPT_PROBLEMS,
    repeats_shown: int | None = None,
) -> DatasetReport:
    """Validates a local ``.jsonl`` file or an ``s3://bucket/key`` object, streaming it.

    Raises SourceError when the input cannot be read. Every problem is passed to ``on_problem`` as it
    is found; the report keeps the first ``keep_problems`` of them. With ``repeats_shown``, a problem
    repeated on many lines is passed on for that many lines, then once as a summary (the counts keep
    every repeat).

    A file that is not JSONL records at all (gzip, UTF-16, a JSON array, prompt/completion data, ...)
    gets one problem on line 1 that names its format and the fix, and no line-by-line validation.
    """
    checker = RecordChecker(student_model_id)
    log = ProblemLog(on_problem, keep_problems, repeats_shown=repeats_shown)
    duplicates = DuplicatePrompts(source)
    records = valid = blank_lines = single_turn = multi_turn = golden = characters = 0

    with open_stream(source, s3) as stream, paused_garbage_collection():
        head = stream.peek(HEAD_BYTES)[:HEAD_BYTES]
        file_format = recognize_file_format(head, source, whole_file=len(head) < HEAD_BYTES)
        if file_format is not None:
            return _unusable_file(source, student_model_id, file_format, log)
        for line_number, line in enumerate(iter_lines(stream, MAX_RECORD_BYTES), start=1):
            if isinstance(line, OversizeLine):
                records += 1
                log.add(Problem(source, line_number, "$", oversize_reason(line.length)))
                continue
            if not line or line.isspace():
                blank_lines += 1
                log.add(Problem(source, line_number, "$", "blank line", Severity.WARNING))
                continue
            records += 1
            issues, shape = checker.check_line(line)
            for field_path, reason, severity in issues:
                log.add(Problem(source, line_number, field_path, reason, severity))
            if shape is None:
                continue
            valid += 1
            characters += shape.input_characters
            golden += shape.has_golden_answer
            if shape.user_turns > 1:
                multi_turn += 1
            else:
                single_turn += 1
            duplicate = duplicates.check(shape.prompt_fingerprint, line_number)
            if duplicate is not None:
                log.add(duplicate)

    log.finish()
    verdict_reasons = file_level_verdict(source, records, valid, log)
    return DatasetReport(
        source=source,
        student_model_id=student_model_id,
        records=records,
        valid=valid,
        invalid=records - valid,
        blank_lines=blank_lines,
        single_turn=single_turn,
        multi_turn=multi_turn,
        with_golden_answer=golden,
        duplicate_prompts=duplicates.found,
        estimated_input_tokens=estimated_tokens(characters),
        errors=log.errors,
        warnings=log.warnings,
        verdict_reasons=verdict_reasons,
        problems=log.kept,
        problems_truncated=log.truncated,
    )


def _unusable_file(
    source: str, student_model_id: str | None, file_format: FileFormat, log: ProblemLog
) -> DatasetReport:
    """The report on a file in another format: one problem, and no records counted."""
    log.add(Problem(source, FIRST_LINE, "(file)", file_format.reason))
    log.finish()
    return DatasetReport(
        source=source,
        student_model_id=student_model_id,
        records=0,
        valid=0,
        invalid=0,
        blank_lines=0,
        single_turn=0,
        multi_turn=0,
        with_golden_answer=0,
        duplicate_prompts=0,
        estimated_input_tokens=0,
        errors=log.errors,
        warnings=log.warnings,
        verdict_reasons=[f"not {SCHEMA_VERSION} JSONL ({file_format.name})"],
        problems=log.kept,
        problems_truncated=log.truncated,
    )
