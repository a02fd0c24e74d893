"""Composition: contributors by type x state x business unit x owning function.

Counted from `lifecycle_intervals`: a contributor counts in the group of the interval in
effect at the instant asked about. "Now" and every day of a series use the same rule.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from services.reporting.projections.reports.common import Row, in_effect, utc_day

Dimension = Literal["contributor_type", "lifecycle_state", "business_unit", "owning_function"]
DIMENSIONS: tuple[Dimension, ...] = (
    "contributor_type",
    "lifecycle_state",
    "business_unit",
    "owning_function",
)
GroupKey = tuple[str | None, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class CompositionCount:
    """One group; a dimension not grouped by is None."""

    day: date | None
    contributor_type: str | None
    lifecycle_state: str | None
    business_unit: str | None
    owning_function: str | None
    count: int


def composition(
    intervals: Iterable[Row], at: datetime, by: Sequence[Dimension] = DIMENSIONS
) -> list[CompositionCount]:
    """Contributors per group at the instant `at` (use `end_of_day` for a day)."""
    counts = Counter(
        _group(row, by) for row in intervals if in_effect(row["valid_from"], row["valid_to"], at)
    )
    return [
        CompositionCount(None, *key, count) for key, count in sorted(counts.items(), key=_order)
    ]


def composition_series(
    intervals: Iterable[Row], start: date, end: date, by: Sequence[Dimension] = DIMENSIONS
) -> list[CompositionCount]:
    """Per day from `start` to `end` inclusive, the groups at the end of that day
    (`composition(at=end_of_day(day))`), computed in one sweep over the intervals."""
    if end < start:
        raise ValueError("end is before start")
    one = timedelta(days=1)
    changes: dict[GroupKey, Counter[date]] = defaultdict(Counter)
    for row in intervals:
        # In effect at the end of day d <=> valid_from < midnight(d+1) <= valid_to.
        first = max(utc_day(row["valid_from"]), start)
        last = end if row["valid_to"] is None else min(utc_day(row["valid_to"]) - one, end)
        if first <= last:
            key = _group(row, by)
            changes[key][first] += 1
            changes[key][last + one] -= 1
    points: list[CompositionCount] = []
    for key in sorted(changes, key=_key_order):
        running = 0
        day = start
        while day <= end:
            running += changes[key][day]
            if running:
                points.append(CompositionCount(day, *key, running))
            day += one
    points.sort(key=lambda p: (p.day, _key_order(_key_of(p))))
    return points


def _group(row: Row, by: Sequence[Dimension]) -> GroupKey:
    a, b, c, d = (row[name] if name in by else None for name in DIMENSIONS)
    return (a, b, c, d)


def _key_of(p: CompositionCount) -> GroupKey:
    return (p.contributor_type, p.lifecycle_state, p.business_unit, p.owning_function)


def _key_order(key: GroupKey) -> tuple[str, ...]:
    return tuple(part or "" for part in key)


def _order(item: tuple[GroupKey, int]) -> tuple[str, ...]:
    return _key_order(item[0])
