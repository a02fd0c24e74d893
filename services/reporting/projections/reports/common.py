"""What every report shares: the row shape, reading times, periods, percentiles."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from services.reporting.projections.access import midnight

Row = Mapping[str, Any]
"""One table row, key and value columns together (`Table.as_row`)."""
Granularity = Literal["day", "week", "month"]

_DAY = timedelta(days=1)


def end_of_day(day: date) -> datetime:
    """The last instant of a UTC day: figures "on" a day include every change that took
    effect during it."""
    return midnight(day + _DAY) - timedelta(microseconds=1)


def in_effect(start: datetime, end: datetime | None, at: datetime) -> bool:
    """Whether the half-open [start, end) holds `at`; end None is open-ended."""
    return start <= at and (end is None or at < end)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def days(delta: timedelta) -> float:
    return delta / _DAY


def period_of(day: date, granularity: Granularity) -> str:
    """`2025-03-07`, `2025-W10` (ISO week) or `2025-03`."""
    if granularity == "day":
        return day.isoformat()
    if granularity == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
