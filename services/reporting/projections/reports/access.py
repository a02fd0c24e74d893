"""Access risk: sensitive access held by externals, access held after offboarding or
outside every contract, and grants that never expire."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.reporting.projections.reports.common import Row, days, in_effect

SENSITIVE = frozenset({"confidential", "restricted"})
INTERNAL_TYPES = frozenset({"employee"})


@dataclass(frozen=True, slots=True)
class HeldGrant:
    contributor_id: str
    contributor_type: str
    grant_id: str
    resource: str
    classification: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExposureFinding:
    contributor_id: str
    contributor_type: str
    grant_id: str
    kind: str
    classification: str
    exposed_from: datetime
    exposed_until: datetime | None
    """None while the grant is still held."""
    days: float
    """Up to `at` if the exposure continues past it."""


def held_grants(grants: Iterable[Row], at: datetime) -> list[HeldGrant]:
    return [
        HeldGrant(
            g["contributor_id"],
            g["contributor_type"],
            g["grant_id"],
            g["resource"],
            g["classification"],
            g["expires_at"],
        )
        for g in grants
        if in_effect(g["held_from"], g["held_until"], at)
    ]


def external_sensitive_access(
    grants: Iterable[Row], at: datetime, internal_types: frozenset[str] = INTERNAL_TYPES
) -> list[HeldGrant]:
    """Confidential or restricted grants held at `at` by contributors of a non-internal type."""
    return [
        g
        for g in held_grants(grants, at)
        if g.classification in SENSITIVE and g.contributor_type not in internal_types
    ]


def grants_without_expiry(grants: Iterable[Row], at: datetime) -> list[HeldGrant]:
    return [g for g in held_grants(grants, at) if g.expires_at is None]


def access_after_end(exposures: Iterable[Row], at: datetime) -> list[ExposureFinding]:
    """Exposures that had begun by `at`, with their length in days up to `at`, longest first."""
    findings = [
        ExposureFinding(
            x["contributor_id"],
            x["contributor_type"],
            x["grant_id"],
            x["kind"],
            x["classification"],
            x["exposed_from"],
            x["exposed_until"],
            days(min(x["exposed_until"] or at, at) - x["exposed_from"]),
        )
        for x in exposures
        if x["exposed_from"] < at
    ]
    return sorted(findings, key=lambda f: (-f.days, f.contributor_id, f.grant_id, f.kind))
