"""Compliance posture per type, and checks whose validity has run out."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from services.reporting.projections.model import COMPLIANCE_STATUSES
from services.reporting.projections.reports.common import Row

UNKNOWN = "unknown"
"""No policy decision about the contributor yet."""
POSTURE_BUCKETS: tuple[str, ...] = (*COMPLIANCE_STATUSES, UNKNOWN)


@dataclass(frozen=True, slots=True)
class Posture:
    contributor_type: str
    contributors: int
    counts: Mapping[str, int]
    """Every bucket of `POSTURE_BUCKETS`; they add up to `contributors`."""

    @property
    def percent(self) -> dict[str, float]:
        return {b: 100 * n / self.contributors for b, n in self.counts.items()}


@dataclass(frozen=True, slots=True)
class OverdueCheck:
    contributor_id: str
    contributor_type: str
    check: str
    valid_until: date
    days_overdue: int


def current_contributors(facts: Iterable[Row]) -> list[Row]:
    """Registered and not offboarded: the population the posture is about."""
    return [f for f in facts if f["registered"] and f["lifecycle_state"] != "offboarded"]


def compliance_posture(facts: Iterable[Row]) -> list[Posture]:
    """Per current type, the latest policy status of every current contributor."""
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for f in current_contributors(facts):
        by_type[f["contributor_type"]][f["compliance_status"] or UNKNOWN] += 1
    return [
        Posture(t, sum(c.values()), {b: c[b] for b in POSTURE_BUCKETS})
        for t, c in sorted(by_type.items())
    ]


def overdue_checks(checks: Iterable[Row], facts: Iterable[Row], on: date) -> list[OverdueCheck]:
    """Passed or waived checks of current contributors whose last valid day is before `on`
    and that have not been recorded again since."""
    current = {f["contributor_id"] for f in current_contributors(facts)}
    return sorted(
        (
            OverdueCheck(
                c["contributor_id"],
                c["contributor_type"],
                c["check"],
                c["valid_until"],
                (on - c["valid_until"]).days,
            )
            for c in checks
            if c["contributor_id"] in current
            and c["outcome"] in ("passed", "waived")
            and c["valid_until"] is not None
            and c["valid_until"] < on
        ),
        key=lambda o: (o.contributor_type, o.contributor_id, o.check),
    )
