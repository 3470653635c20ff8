"""JSON objects that remember the keys they repeated.

Every mainstream JSON parser keeps the last of two equal keys and says nothing, so a record or a
filter can lose data silently. Passed as ``json.loads(object_pairs_hook=...)``, object_from_pairs
builds the same dict (last value kept) and, only when a key repeats, records which.
"""

from __future__ import annotations

from typing import Any


class RepeatedKeys(dict[str, Any]):
    """An object in which at least one key appeared more than once."""

    def __init__(self, pairs: list[tuple[str, Any]], repeated: list[str]) -> None:
        super().__init__(pairs)
        self.repeated = repeated


def object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    repeated = []
    for key, _ in pairs:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    return RepeatedKeys(pairs, repeated)


def repeated_keys(value: object) -> list[str]:
    """The keys an object built by object_from_pairs repeated; empty for anything else."""
    return value.repeated if isinstance(value, RepeatedKeys) else []
