"""The dashboard's figures: rows read in one snapshot, turned into JSON sections by the pure
report functions (`projections/reports`), the same ones the report API calls.

Each section is plain JSON data (strings, numbers, lists, objects) so the feed can compare
two computations section by section and send only what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.domain.values import DEI_PROGRAMS
from services.reporting.adapters.tables import (
    access_exposures,
    access_grants,
    contributor_facts,
    dei_programs,
    demographic_releases,
    lifecycle_intervals,
)
from services.reporting.api.rows import Row, rows
from services.reporting.projections.access import midnight
from services.reporting.projections.reports import (
    access_after_end,
    compliance_posture,
    composition,
    composition_series,
    dei_coverage,
    end_of_day,
    external_sensitive_access,
)
from services.reporting.projections.reports.compliance import POSTURE_BUCKETS
from services.reporting.projections.reports.composition import Dimension

Sections = dict[str, Any]
"""Section name -> JSON-ready value."""

SERIES_DAYS = 30
"""How many days the composition chart covers, today included."""
TABLE_LIMIT = 100
"""Rows per access-risk table; the total is always given."""
DEMOGRAPHICS = "demographics"
"""The section only `dei:aggregate` holders receive."""

_FACT_COLUMNS = (
    contributor_facts.c.contributor_id,
    contributor_facts.c.registered,
    contributor_facts.c.contributor_type,
    contributor_facts.c.lifecycle_state,
    contributor_facts.c.compliance_status,
)
"""What the posture and DEI coverage read: never `history`, the bulk of the table."""


@dataclass(frozen=True, slots=True)
class DashboardRows:
    facts: list[Row]
    intervals: list[Row]
    grants: list[Row]
    exposures: list[Row]
    dei_programs: list[Row]
    releases: list[Row]


async def load_rows(conn: AsyncConnection, at: datetime, days: int = SERIES_DAYS) -> DashboardRows:
    """Every row the dashboard reads, narrowed in SQL as the report API narrows them;
    call it inside `api.rows.snapshot` so all tables come from one view."""
    first = at.date() - timedelta(days=days - 1)
    facts = [dict(r) for r in (await conn.execute(sa.select(*_FACT_COLUMNS))).mappings()]
    intervals = await rows(
        conn,
        lifecycle_intervals,
        lifecycle_intervals.c.valid_from <= end_of_day(at.date()),
        sa.or_(
            lifecycle_intervals.c.valid_to.is_(None),
            lifecycle_intervals.c.valid_to > midnight(first),
        ),
    )
    grants = await rows(
        conn,
        access_grants,
        access_grants.c.held_from <= at,
        sa.or_(access_grants.c.held_until.is_(None), access_grants.c.held_until > at),
    )
    exposures = await rows(conn, access_exposures, access_exposures.c.exposed_from < at)
    programs = await rows(conn, dei_programs)
    releases = await rows(conn, demographic_releases)
    return DashboardRows(facts, intervals, grants, exposures, programs, releases)


def build_sections(data: DashboardRows, at: datetime, k: int, days: int = SERIES_DAYS) -> Sections:
    """The report sections at the instant `at` (freshness is computed separately)."""
    sections: Sections = {
        "composition": _composition(data.intervals, at, days),
        "compliance": _compliance(data.facts),
        "access": _access(data.grants, data.exposures, at),
        "dei": _dei(data.dei_programs, data.facts, k),
        DEMOGRAPHICS: _demographics(data.releases),
    }
    encoded: Sections = jsonable_encoder(sections)
    return encoded


def _composition(intervals: Sequence[Row], at: datetime, days: int) -> dict[str, Any]:
    """Current contributors (registered, not offboarded) per type: now, and at the end of
    each of the last `days` days."""
    last = at.date()
    first = last - timedelta(days=days - 1)
    labels = [first + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(labels)}
    by: tuple[Dimension, ...] = ("contributor_type", "lifecycle_state")
    series: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    for point in composition_series(intervals, first, last, by):
        if point.lifecycle_state != "offboarded" and point.contributor_type is not None:
            assert point.day is not None
            series[point.contributor_type][index[point.day]] += point.count
    current: dict[str, int] = defaultdict(int)
    for group in composition(intervals, at, by):
        if group.lifecycle_state != "offboarded" and group.contributor_type is not None:
            current[group.contributor_type] += group.count
    types = sorted(set(series) | set(current), key=lambda t: (-current.get(t, 0), t))
    return {
        "days": [d.isoformat() for d in labels],
        "types": types,
        "series": {t: series[t] for t in types},
        "current": {t: current.get(t, 0) for t in types},
        "total": sum(current.values()),
    }


def _compliance(facts: Sequence[Row]) -> dict[str, Any]:
    postures = compliance_posture(facts)
    totals = {b: sum(p.counts[b] for p in postures) for b in POSTURE_BUCKETS}
    return {
        "buckets": list(POSTURE_BUCKETS),
        "types": [
            {"contributor_type": p.contributor_type, "contributors": p.contributors, **p.counts}
            for p in postures
        ],
        "totals": totals,
        "contributors": sum(totals.values()),
    }


def _access(grants: Sequence[Row], exposures: Sequence[Row], at: datetime) -> dict[str, Any]:
    sensitive = sorted(
        external_sensitive_access(grants, at),
        key=lambda g: (g.classification != "restricted", g.contributor_type, g.contributor_id),
    )
    after_end = access_after_end(exposures, at)
    return {
        "external_sensitive": [
            {
                "contributor_id": g.contributor_id,
                "contributor_type": g.contributor_type,
                "grant_id": g.grant_id,
                "resource": g.resource,
                "classification": g.classification,
                "expires_at": g.expires_at,
            }
            for g in sensitive[:TABLE_LIMIT]
        ],
        "external_sensitive_total": len(sensitive),
        "after_end": [
            {
                "contributor_id": x.contributor_id,
                "contributor_type": x.contributor_type,
                "grant_id": x.grant_id,
                "kind": x.kind,
                "classification": x.classification,
                "exposed_from": x.exposed_from,
                "exposed_until": x.exposed_until,
                "ongoing": _ongoing(x.exposed_until, at),
                # Tenths of a day: finer figures would change with every recomputation.
                "days": round(x.days, 1),
            }
            for x in after_end[:TABLE_LIMIT]
        ],
        "after_end_total": len(after_end),
        "after_end_ongoing": sum(1 for x in after_end if _ongoing(x.exposed_until, at)),
    }


def _ongoing(until: datetime | None, at: datetime) -> bool:
    return until is None or until > at


def _dei(programs: Sequence[Row], facts: Sequence[Row], k: int) -> dict[str, Any]:
    coverage = dei_coverage(programs, facts, k)
    return {
        "k": k,
        "programs": list(DEI_PROGRAMS),
        "types": sorted({c.contributor_type for c in coverage}),
        "coverage": [
            {
                "contributor_type": c.contributor_type,
                "program": c.program,
                "contributors": c.contributors,
                "extended": c.extended,
                "enrolled": c.enrolled,
            }
            for c in coverage
        ],
    }


def _demographics(releases: Sequence[Row]) -> dict[str, Any]:
    """Per dimension, its latest released period's table exactly as it was frozen.

    The dashboard never releases a table itself: a release is frozen for good, so it is
    the report API's act (`GET /v1/reports/dei/demographics`), and the dashboard shows
    what has been released."""
    latest: dict[str, Row] = {}
    for r in releases:
        seen = latest.get(r["dimension"])
        if seen is None or (r["period"], r["released_at"]) > (seen["period"], seen["released_at"]):
            latest[r["dimension"]] = r
    return {
        "allowed": True,
        "tables": [
            {
                "dimension": dimension,
                "period": r["period"],
                "k": r["k"],
                "released_at": r["released_at"],
                **_release_table(r["release"]),
            }
            for dimension, r in sorted(latest.items())
        ],
    }


def _release_table(release: Mapping[str, Any]) -> dict[str, Any]:
    """Cells stay null where suppressed: the page shows them as suppressed, never as 0."""
    return {
        name: release[name]
        for name in ("rows", "columns", "cells", "row_totals", "column_totals", "total")
    }


def for_scopes(sections: Sections, scopes: frozenset[str]) -> Sections:
    """What a viewer may see: the demographic tables need `dei:aggregate`."""
    if DEMOGRAPHICS in sections and "dei:aggregate" not in scopes:
        return {**sections, DEMOGRAPHICS: {"allowed": False, "tables": []}}
    return sections


def freshness_section(
    lag: Mapping[Any, int] | None,
    last_event_times: Mapping[Any, datetime],
    at: datetime,
    status: str = "ok",
) -> dict[str, Any]:
    """Consumer lag, as the freshness report defines it: events the broker holds beyond the
    stored offsets; seconds 0 when nothing waits, else the age of the last event processed
    (an upper bound on how stale the figures are), null if none was processed yet."""
    if lag is None:
        return {
            "status": status,
            "lag_events": None,
            "lag_seconds": None,
            "partitions": 0,
            "last_event_time": _latest(last_event_times.values()),
        }
    behind = sum(lag.values())
    seconds: float | None = 0.0
    if behind:
        ages = [
            (at - last_event_times[tp]).total_seconds()
            for tp, n in lag.items()
            if n and tp in last_event_times
        ]
        waiting_unseen = any(n and tp not in last_event_times for tp, n in lag.items())
        seconds = None if waiting_unseen or not ages else round(max(ages))
    section = {
        "status": status,
        "lag_events": behind,
        "lag_seconds": seconds,
        "partitions": len(lag),
        "last_event_time": _latest(last_event_times.values()),
    }
    encoded: dict[str, Any] = jsonable_encoder(section)
    return encoded


def _latest(times: Any) -> str | None:
    found = max(times, default=None)
    return found.isoformat() if isinstance(found, datetime) else None
