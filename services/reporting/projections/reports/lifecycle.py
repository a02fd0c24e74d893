"""Lifecycle flow: onboarding times, engagements starting and ending, contracts running
out, conversions and re-engagements."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.reporting.projections.reports.common import (
    Granularity,
    Row,
    days,
    percentile,
    period_of,
    utc_day,
)


@dataclass(frozen=True, slots=True)
class OnboardingTime:
    contributor_type: str
    completed: int
    p50_days: float
    p90_days: float


@dataclass(frozen=True, slots=True)
class EngagementFlow:
    period: str
    contributor_type: str
    started: int
    ended: int


@dataclass(frozen=True, slots=True)
class ContractsEnding:
    contributor_type: str
    within_days: int
    count: int
    contracts: tuple[tuple[str, str], ...]
    """(contributor id, contract id)"""


@dataclass(frozen=True, slots=True)
class ConversionCount:
    period: str
    from_type: str
    to_type: str
    count: int


@dataclass(frozen=True, slots=True)
class PeriodCount:
    period: str
    contributor_type: str
    count: int


def time_to_onboard(
    spells: Iterable[Row], start: datetime | None = None, end: datetime | None = None
) -> list[OnboardingTime]:
    """Per type (when activated), onboarding spells that ended in activation within
    [start, end): from the spell's start (onboarding_started or reengaged) to activation."""
    durations: dict[str, list[float]] = defaultdict(list)
    for s in spells:
        done = s["ended_at"]
        if s["ended_by"] != "activated" or done is None:
            continue
        if (start is None or start <= done) and (end is None or done < end):
            durations[s["contributor_type"]].append(days(done - s["started_at"]))
    return [
        OnboardingTime(t, len(d), percentile(d, 50), percentile(d, 90))
        for t, d in sorted(durations.items())
    ]


def engagement_flow(
    engagements: Iterable[Row], start: date, end: date, granularity: Granularity = "month"
) -> list[EngagementFlow]:
    """Per period and type (at the engagement's start): engagements whose start day, and
    ended engagements whose actual last day, fall in [start, end]."""
    started: Counter[tuple[str, str]] = Counter()
    ended: Counter[tuple[str, str]] = Counter()
    for e in engagements:
        if start <= e["start"] <= end:
            started[period_of(e["start"], granularity), e["contributor_type"]] += 1
        if e["status"] == "ended" and start <= e["end"] <= end:
            ended[period_of(e["end"], granularity), e["contributor_type"]] += 1
    return [
        EngagementFlow(period, t, started[period, t], ended[period, t])
        for period, t in sorted(started.keys() | ended.keys())
    ]


def contracts_ending(
    contracts: Iterable[Row], on: date, horizons: Sequence[int] = (30, 60, 90)
) -> list[ContractsEnding]:
    """Per type (now) and horizon h: contracts whose last day is in [on, on + h days].
    Horizons are cumulative: the 60-day figure includes the 30-day one."""
    rows = list(contracts)
    found: list[ContractsEnding] = []
    for t in sorted({r["contributor_type"] for r in rows}):
        for h in sorted(horizons):
            last = on + timedelta(days=h)
            ending = tuple(
                sorted(
                    (r["contributor_id"], r["contract_id"])
                    for r in rows
                    if r["contributor_type"] == t
                    and r["end"] is not None
                    and on <= r["end"] <= last
                )
            )
            found.append(ContractsEnding(t, h, len(ending), ending))
    return found


def conversions(
    lifecycle_events: Iterable[Row], start: date, end: date, granularity: Granularity = "month"
) -> list[ConversionCount]:
    """Type conversions that took effect in [start, end], per period and (from, to)."""
    counts: Counter[tuple[str, str, str]] = Counter(
        (period_of(utc_day(e["effective_at"]), granularity), e["from_type"], e["to_type"])
        for e in lifecycle_events
        if e["kind"] == "type_converted" and start <= utc_day(e["effective_at"]) <= end
    )
    return [ConversionCount(*key, n) for key, n in sorted(counts.items())]


def reengagements(
    lifecycle_events: Iterable[Row], start: date, end: date, granularity: Granularity = "month"
) -> list[PeriodCount]:
    """Re-engagements that took effect in [start, end], per period and type at the time."""
    counts: Counter[tuple[str, str]] = Counter(
        (period_of(utc_day(e["effective_at"]), granularity), e["contributor_type"])
        for e in lifecycle_events
        if e["kind"] == "reengaged" and start <= utc_day(e["effective_at"]) <= end
    )
    return [PeriodCount(*key, n) for key, n in sorted(counts.items())]
