"""Date arithmetic that never overflows: policy must answer for any date a payload holds."""

from __future__ import annotations

from datetime import date


def shift(day: date, days: int) -> date:
    """`day` moved by `days`, held at the ends of the calendar instead of raising."""
    ordinal = min(max(day.toordinal() + days, date.min.toordinal()), date.max.toordinal())
    return date.fromordinal(ordinal)


def between(first: date, last: date) -> int:
    return (last - first).days
