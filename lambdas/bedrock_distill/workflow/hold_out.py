"""Validation prompts held out of a run's own training prompts, when the run gives none.

Scoring a model on records it trained on measures how well it fits its training set, not how it answers
prompts it has not seen. So when a run trains from an S3 prompts file without `validationPrompts`,
Preflight splits the file before any job exists: `validationSampleSize` of its records become the
validation prompts and the job trains on the rest. Which records are held out is a pure function of the
execution ARN and the record count, so a retried Preflight writes the same two files, while another run
of the same file holds out another sample.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.preflight import Problem, SourceError
from bedrock_distill.preflight.dataset import MAX_RECORD_BYTES, MIN_VALID_RECORDS
from bedrock_distill.preflight.problems import WHOLE_FILE
from bedrock_distill.preflight.sources import OversizeLine, iter_lines, open_stream
from bedrock_distill.workflow.run import HeldOutSplit

SELECTION = "the validationSampleSize records with the smallest SHA-256 of (execution ARN, record index)"


def held_out_indices(execution_arn: str, records: int, size: int) -> frozenset[int]:
    """The positions (0-based, among the file's records) of the `size` records to hold out."""
    return frozenset(heapq.nsmallest(size, range(records), key=lambda index: _rank(execution_arn, index)))


def _rank(execution_arn: str, index: int) -> bytes:
    return hashlib.sha256(f"{execution_arn}\n{index}".encode()).digest()


def hold_out_problem(source: str, valid_records: int, size: int) -> Problem | None:
    """Why `size` records cannot be held out of `valid_records`: the job would train on fewer than the
    100 records distillation needs (user guide, "Prepare your training datasets for distillation")."""
    left = max(valid_records - size, 0)
    if left >= MIN_VALID_RECORDS:
        return None
    remedies = [
        "give validationPrompts (an s3:// JSONL of prompts kept out of training)",
        f"add at least {MIN_VALID_RECORDS - left:,} valid records",
    ]
    if valid_records > MIN_VALID_RECORDS:
        remedies.append(f"lower validationSampleSize to at most {valid_records - MIN_VALID_RECORDS:,}")
    reason = (
        f"no validationPrompts given, so validationSampleSize={size:,} records would be held out for validation, "
        f"leaving {left:,} of the {valid_records:,} valid records to train on; distillation needs at least "
        f"{MIN_VALID_RECORDS}. To fix: {'; or '.join(remedies)}"
    )
    return Problem(source, WHOLE_FILE, "(file)", reason)


def split_dataset(
    source: str,
    *,
    execution_arn: str,
    records: int,
    held_out_size: int,
    training: S3Location,
    held_out: S3Location,
    s3: S3Gateway,
) -> HeldOutSplit:
    """Writes the training remainder and the held-out prompts, every record in exactly one of them.

    `records` is how many valid records Preflight's validation counted; the source must hold no invalid
    ones. Two streaming passes, one per file, copy each record byte for byte in its original order, so
    memory stays bounded whatever the file's size. Raises SourceError when a pass counts other than
    `records` records: the file changed after it was validated.
    """
    chosen = held_out_indices(execution_arn, records, held_out_size)
    for destination, holds_out in ((training, False), (held_out, True)):
        copy = _RecordCopy(source, s3)
        s3.upload_chunks(destination, copy.records(chosen, held_out=holds_out))
        if copy.count != records:
            raise SourceError(
                f"{source}: held {records:,} valid records when validated and {copy.count:,} when split for "
                "validation: it changed during Preflight; start the run again"
            )
    return HeldOutSplit(
        dataset_uri=source,
        dataset_records=records,
        training_records=records - len(chosen),
        held_out_records=len(chosen),
    )


class _RecordCopy:
    """One pass over the source's records: its non-blank lines, as the validator counts them."""

    def __init__(self, source: str, s3: S3Gateway) -> None:
        self._source = source
        self._s3 = s3
        self.count = 0

    def records(self, chosen: frozenset[int], *, held_out: bool) -> Iterator[bytes]:
        """The records at the chosen positions (held_out) or at the others, each ending in a newline so
        that they stay one a line."""
        with open_stream(self._source, self._s3) as stream:
            for line in iter_lines(stream, MAX_RECORD_BYTES):
                if isinstance(line, OversizeLine):
                    raise SourceError(
                        f"{self._source}: a record over {MAX_RECORD_BYTES:,} bytes appeared after validation"
                    )
                if not line or line.isspace():
                    continue
                if (self.count in chosen) is held_out:
                    yield line if line.endswith(b"\n") else line + b"\n"
                self.count += 1
