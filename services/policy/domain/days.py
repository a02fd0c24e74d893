"""Date arithmetic that never overflows: policy must answer for any date a payload holds."""

from __future__ import annotations

from datetime import date

_FIRST, _LAST = date.min.toordinal(), date.max.toordinal()


def shift(day: date, days: int) -> date:
    """`day` moved by `days`, held at the ends of the calendar instead of raising."""
    # Evaluation calls this a few dozen times per contributor: plain comparisons, no calls.
    ordinal = day.toordinal() + days
    if ordinal < _FIRST:
        ordinal = _FIRST
    elif ordinal > _LAST:
        ordinal = _LAST
    return date.fromordinal(ordinal)


def between(first: date, last: date) -> int:
    return (last - first).days
