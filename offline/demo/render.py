"""How the demo writes figures: durations, sparklines, missing values."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARKLINE_WIDTH = 60


def duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def sparkline(values: Sequence[float], width: int = SPARKLINE_WIDTH) -> str:
    """The values as block characters, averaged into at most `width` columns."""
    if not values:
        return ""
    columns = min(width, len(values))
    buckets = [values[i * len(values) // columns : (i + 1) * len(values) // columns] for i in range(columns)]
    means = [statistics.fmean(bucket) for bucket in buckets]
    low, high = min(means), max(means)
    span = (high - low) or 1.0
    return "".join(SPARK_LEVELS[round((mean - low) / span * (len(SPARK_LEVELS) - 1))] for mean in means)


def figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)
