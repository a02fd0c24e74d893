"""Lifecycle reports against hand replays of the raw events."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, timedelta

from services.reporting.projections.reports import (
    contracts_ending,
    conversions,
    engagement_flow,
    reengagements,
    time_to_onboard,
)

from .ecosystem import REPORT_DAY
from .naive import FOREVER, by_effect, day_of, final_items, kind, state_at
from .support import STREAMS, rows

YEAR = (date(2025, 1, 1), date(2025, 12, 31))


def nearest_rank(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


def test_time_to_onboard_per_type() -> None:
    durations: dict[str, list[float]] = defaultdict(list)
    for stream in STREAMS.values():
        started = None
        for e in by_effect(stream):
            if kind(e) in ("onboarding_started", "reengaged"):
                started = e.effective_time
            elif kind(e) == "activated" and started is not None:
                state = state_at(stream, e.effective_time)
                assert state is not None
                durations[state["type"]].append((e.effective_time - started) / timedelta(days=1))
                started = None
    found = {
        t.contributor_type: (t.completed, t.p50_days, t.p90_days)
        for t in time_to_onboard(rows("onboarding_spells"))
    }
    assert found == {
        t: (len(d), nearest_rank(d, 50), nearest_rank(d, 90)) for t, d in durations.items()
    }
    # Contractors took 7, 14 and 3 days; the gig worker 1 day, then 2 after re-engaging.
    assert found["contractor"] == (3, 7.0, 14.0)
    assert found["gig_worker"] == (2, 1.0, 2.0)


def test_engagements_starting_and_ending_per_month() -> None:
    started: Counter[tuple[str, str]] = Counter()
    ended: Counter[tuple[str, str]] = Counter()
    for stream in STREAMS.values():
        for item in final_items(stream, "engagement", "engagement_id").values():
            state = state_at(stream, item["first_seen"])
            assert state is not None
            started[day_of(item["start"]).strftime("%Y-%m"), state["type"]] += 1
            if item["final"]:
                ended[day_of(item["end"]).strftime("%Y-%m"), state["type"]] += 1
    flow = engagement_flow(rows("engagements"), *YEAR, "month")
    assert {(f.period, f.contributor_type): f.started for f in flow if f.started} == started
    assert {(f.period, f.contributor_type): f.ended for f in flow if f.ended} == ended
    # The back-dated offboarding ended con-3's engagement in June.
    assert ended["2025-06", "contractor"] == 1


def test_contracts_ending_within_30_60_90_days() -> None:
    ending: Counter[tuple[str, int]] = Counter()
    for stream in STREAMS.values():
        current = state_at(stream, FOREVER)
        assert current is not None
        for item in final_items(stream, "contract", "contract_id").values():
            end = item["end"] and day_of(item["end"])
            for horizon in (30, 60, 90):
                if end is not None and REPORT_DAY <= end <= REPORT_DAY + timedelta(days=horizon):
                    ending[current["type"], horizon] += 1
    found = contracts_ending(rows("contracts"), REPORT_DAY)
    assert {(c.contributor_type, c.within_days): c.count for c in found if c.count} == ending
    # con-1 ends on 20 July, con-2 (now an employee) on 15 August, con-3 ended in June.
    assert ending == {("contractor", 30): 1, ("contractor", 60): 1, ("contractor", 90): 1,
                      ("employee", 60): 1, ("employee", 90): 1}  # fmt: skip


def test_conversions_and_reengagements_per_month() -> None:
    converted: Counter[tuple[str, str, str]] = Counter()
    returned: Counter[tuple[str, str]] = Counter()
    for stream in STREAMS.values():
        for e in stream:
            month = e.effective_time.strftime("%Y-%m")
            if kind(e) == "type_converted":
                converted[month, e.data["from_type"], e.data["to_type"]] += 1
            if kind(e) == "reengaged":
                state = state_at(stream, e.effective_time)
                assert state is not None
                returned[month, state["type"]] += 1
    events = rows("lifecycle_events")
    assert {(c.period, c.from_type, c.to_type): c.count for c in conversions(events, *YEAR)} == (
        converted
    )
    assert {(r.period, r.contributor_type): r.count for r in reengagements(events, *YEAR)} == (
        returned
    )
    assert converted == {("2025-04", "contractor", "employee"): 1}
    assert returned == {("2025-05", "gig_worker"): 1}
