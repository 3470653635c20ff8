"""A logical clock, so a job that takes days in Bedrock finishes in milliseconds of real time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class LogicalClock:
    """Time that moves only when told: by `advance`, or by the emulator on status reads if configured."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC).replace(microsecond=0)
        self._elapsed = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + self._elapsed

    def advance(self, seconds: float) -> datetime:
        """Move time forward; returns the new logical now."""
        if seconds < 0:
            raise ValueError("a logical clock never goes back")
        with self._lock:
            self._elapsed += timedelta(seconds=seconds)
            return self._start + self._elapsed

    @property
    def elapsed_seconds(self) -> float:
        """Logical seconds since the clock started: what a demo shows as the time the pipeline took."""
        with self._lock:
            return self._elapsed.total_seconds()
