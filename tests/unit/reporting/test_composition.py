"""Composition now and per day, against a replay of each contributor's events."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from services.reporting.projections.reports import composition, composition_series, end_of_day
from services.reporting.projections.reports.composition import CompositionCount, Dimension

from .ecosystem import NOW, REPORT_DAY, at
from .naive import state_at
from .support import STREAMS, rows

Group = tuple[str | None, str | None, str | None, str | None]


def naive_composition(t: datetime) -> Counter[Group]:
    counts: Counter[Group] = Counter()
    for stream in STREAMS.values():
        s = state_at(stream, t)
        if s is not None:
            counts[s["type"], s["state"], s["bu"], s["function"]] += 1
    return counts


def as_counter(found: list[CompositionCount]) -> Counter[Group]:
    return Counter(
        {
            (c.contributor_type, c.lifecycle_state, c.business_unit, c.owning_function): c.count
            for c in found
        }
    )


def test_composition_now_matches_a_replay() -> None:
    found = composition(rows("lifecycle_intervals"), NOW)
    assert as_counter(found) == naive_composition(NOW)
    assert sum(c.count for c in found) == len(STREAMS)


def test_the_daily_series_matches_a_replay_at_the_end_of_every_day() -> None:
    start, end = date(2025, 1, 1), REPORT_DAY
    series = composition_series(rows("lifecycle_intervals"), start, end)
    day = start
    while day <= end:
        found = as_counter([p for p in series if p.day == day])
        assert found == naive_composition(end_of_day(day)), day
        day += timedelta(days=1)


def test_a_day_counts_what_was_in_effect_at_its_end() -> None:
    intervals = rows("lifecycle_intervals")
    by: tuple[Dimension, ...] = ("contributor_type", "lifecycle_state")
    for day in (date(2025, 6, 19), date(2025, 6, 20), date(2025, 3, 1)):
        series = [p for p in composition_series(intervals, day, day, by) if p.day == day]
        now = composition(intervals, end_of_day(day), by)
        assert [(p.contributor_type, p.lifecycle_state, p.count) for p in series] == [
            (c.contributor_type, c.lifecycle_state, c.count) for c in now
        ]
    # con-3's offboarding was recorded on 30 June but took effect on 20 June at noon.
    assert ("contractor", "offboarded", 1) in [
        (c.contributor_type, c.lifecycle_state, c.count)
        for c in composition(intervals, end_of_day(date(2025, 6, 20)), by)
    ]
    assert ("contractor", "offboarded") not in {
        (c.contributor_type, c.lifecycle_state) for c in composition(intervals, at(6, 20, 11), by)
    }


def test_grouping_by_fewer_dimensions_adds_up() -> None:
    intervals = rows("lifecycle_intervals")
    by_type = composition(intervals, NOW, ("contributor_type",))
    full = naive_composition(NOW)
    for c in by_type:
        assert (c.lifecycle_state, c.business_unit) == (None, None)
        assert c.count == sum(n for g, n in full.items() if g[0] == c.contributor_type)
