"""Integration health: what the source systems disagree about or leave out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.registry.domain.values import CLASSIFICATIONS
from services.reporting.projections.reports.access import held_grants
from services.reporting.projections.reports.common import Row, utc_day
from services.reporting.projections.reports.compliance import current_contributors


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    match: Literal["email", "name_and_sponsor"]
    key: str
    contributor_ids: tuple[str, ...]
    source_systems: tuple[str, ...]
    """Every system the group's contributors are known in."""


@dataclass(frozen=True, slots=True)
class AccountabilityGap:
    contributor_id: str
    contributor_type: str | None
    gap: Literal["no_sponsor", "no_owner", "sponsor_offboarded"]


@dataclass(frozen=True, slots=True)
class UncoveredAccess:
    contributor_id: str
    contributor_type: str
    grants: int
    highest_classification: str


@dataclass(frozen=True, slots=True)
class OwnerConflict:
    contributor_id: str
    claims: tuple[tuple[str, str], ...]
    """(posting system, owning function it claims), by system."""


def probable_duplicates(facts: Iterable[Row]) -> list[DuplicateGroup]:
    """Registered contributors under different ids sharing a normalised e-mail, or a
    normalised display name and the same sponsor."""
    groups: dict[tuple[Literal["email", "name_and_sponsor"], str], list[Row]] = defaultdict(list)
    for f in facts:
        if not f["registered"]:
            continue
        if f["email_key"]:
            groups["email", f["email_key"]].append(f)
        if f["name_key"] and f["sponsor"]:
            groups["name_and_sponsor", f"{f['name_key']} / {f['sponsor']}"].append(f)
    return [
        DuplicateGroup(
            match,
            key,
            tuple(sorted(m["contributor_id"] for m in members)),
            tuple(sorted({s for m in members for s in m["source_systems"]})),
        )
        for (match, key), members in sorted(groups.items())
        if len(members) > 1
    ]


def accountability_gaps(facts: Iterable[Row]) -> list[AccountabilityGap]:
    """Contributors known from registry events who are not offboarded and lack a sponsor
    or an owning function, or whose sponsor is a contributor who has been offboarded."""
    rows = list(facts)
    offboarded = {f["contributor_id"] for f in rows if f["lifecycle_state"] == "offboarded"}
    gaps: list[AccountabilityGap] = []
    for f in rows:
        if f["last_sequence"] == 0 or f["contributor_id"] in offboarded:
            continue
        cid, t = f["contributor_id"], f["contributor_type"]
        if not f["sponsor"]:
            gaps.append(AccountabilityGap(cid, t, "no_sponsor"))
        elif f["sponsor"] in offboarded:
            gaps.append(AccountabilityGap(cid, t, "sponsor_offboarded"))
        if not f["owning_function"]:
            gaps.append(AccountabilityGap(cid, t, "no_owner"))
    return sorted(gaps, key=lambda g: (g.contributor_id, g.gap))


def access_without_contract(
    grants: Iterable[Row], contracts: Iterable[Row], at: datetime
) -> list[UncoveredAccess]:
    """Contributors holding grants at `at` while no contract of theirs covers that day."""
    day = utc_day(at)
    covered = {
        c["contributor_id"]
        for c in contracts
        if c["start"] <= day and (c["end"] is None or day <= c["end"])
    }
    held: dict[str, list[str]] = defaultdict(list)
    types: dict[str, str] = {}
    for g in held_grants(grants, at):
        if g.contributor_id not in covered:
            held[g.contributor_id].append(g.classification)
            types[g.contributor_id] = g.contributor_type
    return [
        UncoveredAccess(cid, types[cid], len(levels), max(levels, key=CLASSIFICATIONS.index))
        for cid, levels in sorted(held.items())
    ]


def conflicting_owners(facts: Iterable[Row]) -> list[OwnerConflict]:
    """Current contributors whose posting systems last claimed different owning functions."""
    conflicts: list[OwnerConflict] = []
    for f in current_contributors(facts):
        claims: Mapping[str, str] = f["owner_claims"]
        if len(set(claims.values())) > 1:
            conflicts.append(OwnerConflict(f["contributor_id"], tuple(sorted(claims.items()))))
    return sorted(conflicts, key=lambda c: c.contributor_id)
