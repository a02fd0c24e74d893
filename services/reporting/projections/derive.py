"""Every row about one contributor, computed from that contributor's facts alone.

Because the rows are a function of the facts (and the facts a set of events), projecting
live, in batches, or rebuilding from offset 0 cannot disagree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any, TypeVar

from services.registry.domain.events import ProfileUpdated, Registered, TypeConverted
from services.registry.domain.state import Contributor
from services.reporting.projections.access import Span, exposures, grant_windows
from services.reporting.projections.facts import ContributorFacts, PolicyFact
from services.reporting.projections.model import (
    ComplianceStatusChanged,
    DeiProgramsExtended,
    Key,
)
from services.reporting.projections.tables import (
    ACCESS_EXPOSURES,
    ACCESS_GRANTS,
    COMPLIANCE_CHECKS,
    CONTRACTS,
    CONTRIBUTOR_FACTS,
    DEI_PROGRAMS,
    ENGAGEMENTS,
    LIFECYCLE_EVENTS,
    LIFECYCLE_INTERVALS,
    ONBOARDING_SPELLS,
)
from services.reporting.projections.timeline import (
    Interval,
    Step,
    effective_steps,
    intervals,
    lifecycle_steps,
    onboarding_spells,
    types_at_first_sight,
)

D = TypeVar("D", ComplianceStatusChanged, DeiProgramsExtended)

RowSet = dict[tuple[str, Key], dict[str, Any]]
"""(table name, key) -> value columns."""


def derive_rows(facts: ContributorFacts) -> RowSet:
    cid = facts.contributor_id
    steps = effective_steps(facts.registry)
    now = steps[-1].state if steps else None
    rows: RowSet = {(CONTRIBUTOR_FACTS.name, (cid,)): _facts_row(facts, now)}
    if now is None:
        return rows
    lifecycle = intervals(steps)
    rows |= _lifecycle_rows(cid, steps, lifecycle)
    rows |= _work_rows(cid, steps, now)
    rows |= _access_rows(cid, facts, lifecycle, now)
    rows |= _dei_rows(cid, facts, now)
    return rows


def _lifecycle_rows(cid: str, steps: Sequence[Step], lifecycle: Iterable[Interval]) -> RowSet:
    rows: RowSet = {}
    for iv in lifecycle:
        rows[LIFECYCLE_INTERVALS.name, (cid, iv.valid_from)] = {
            "valid_to": iv.valid_to,
            "lifecycle_state": iv.lifecycle_state,
            "contributor_type": iv.contributor_type,
            "business_unit": iv.business_unit,
            "owning_function": iv.owning_function,
        }
    for step in lifecycle_steps(steps):
        change = step.fact.payload if isinstance(step.fact.payload, TypeConverted) else None
        rows[LIFECYCLE_EVENTS.name, (cid, step.fact.sequence)] = {
            "kind": step.kind,
            "effective_at": step.at,
            "contributor_type": step.state.contributor_type,
            "from_type": None if change is None else change.from_type,
            "to_type": None if change is None else change.to_type,
        }
    for spell in onboarding_spells(steps):
        rows[ONBOARDING_SPELLS.name, (cid, spell.started_sequence)] = {
            "started_by": spell.started_by,
            "started_at": spell.started_at,
            "ended_at": spell.ended_at,
            "ended_by": spell.ended_by,
            "contributor_type": spell.contributor_type,
        }
    return rows


def _work_rows(cid: str, steps: Sequence[Step], now: Contributor) -> RowSet:
    rows: RowSet = {}
    for c in now.contracts.values():
        rows[CONTRACTS.name, (cid, c.contract_id)] = {
            "legal_entity": c.legal_entity,
            "start": c.start,
            "end": c.end,
            "status": c.status,
            "contributor_type": now.contributor_type,
        }
    started_as = types_at_first_sight(steps)
    for e in now.engagements.values():
        rows[ENGAGEMENTS.name, (cid, e.engagement_id)] = {
            "business_unit": e.business_unit,
            "project": e.project,
            "sponsor": e.sponsor,
            "contract_id": e.contract_id,
            "start": e.start,
            "end": e.end,
            "status": e.status,
            "contributor_type": started_as.get(e.engagement_id, now.contributor_type),
        }
    for check in now.checks.values():
        rows[COMPLIANCE_CHECKS.name, (cid, check.check)] = {
            "outcome": check.outcome,
            "valid_until": check.valid_until,
            "contributor_type": now.contributor_type,
        }
    return rows


def _access_rows(
    cid: str, facts: ContributorFacts, lifecycle: Iterable[Interval], now: Contributor
) -> RowSet:
    rows: RowSet = {}
    windows = grant_windows(facts.registry)
    for w in windows:
        rows[ACCESS_GRANTS.name, (cid, w.grant_id, w.granted_sequence)] = {
            "resource": w.resource,
            "classification": w.classification,
            "expires_at": None if w.expires_at is None else w.expires_at.astimezone(UTC),
            "held_from": w.held_from,
            "held_until": w.held_until,
            "revocation_reason": w.revocation_reason,
            "contributor_type": now.contributor_type,
        }
    for x in exposures(windows, _offboarded(lifecycle), now.contracts.values()):
        key = (cid, x.window.grant_id, x.window.granted_sequence, x.kind, x.exposed_from)
        rows[ACCESS_EXPOSURES.name, key] = {
            "exposed_until": x.exposed_until,
            "classification": x.window.classification,
            "contributor_type": now.contributor_type,
        }
    return rows


def _dei_rows(cid: str, facts: ContributorFacts, now: Contributor) -> RowSet:
    extension = _latest(facts.policy, DeiProgramsExtended)
    extended = set(extension[1].programs) if extension is not None else set()
    return {
        (DEI_PROGRAMS.name, (cid, program)): {
            "extended": program in extended,
            "enrolled": program in now.dei_programs,
            "contributor_type": now.contributor_type,
        }
        for program in sorted(extended | now.dei_programs)
    }


def email_key(email: str | None) -> str | None:
    """Case and `+tag` sub-addresses do not make a different mailbox."""
    if not email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def name_key(name: str | None) -> str | None:
    """Accents, case, punctuation and word order ("Lovelace, Ada") are ignored."""
    if not name:
        return None
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return " ".join(sorted(plain.casefold().split())) or None


def _facts_row(facts: ContributorFacts, now: Contributor | None) -> dict[str, Any]:
    compliance = _latest(facts.policy, ComplianceStatusChanged)
    return {
        "registered": now is not None,
        "contributor_type": now.contributor_type if now else None,
        "lifecycle_state": now.lifecycle if now else None,
        "display_name": now.display_name if now else None,
        "email": now.email if now else None,
        "email_key": email_key(now.email) if now else None,
        "name_key": name_key(now.display_name) if now else None,
        "owning_function": now.owning_function if now else None,
        "sponsor": now.sponsor if now else None,
        "business_unit": now.business_unit if now else None,
        "source_systems": sorted({r.system for r in now.source_references}) if now else [],
        "owner_claims": _owner_claims(facts),
        "compliance_status": compliance[1].status if compliance else None,
        "compliance_since": compliance[0].effective_time if compliance else None,
        "last_sequence": max((f.sequence for f in facts.registry), default=0),
        "history": facts.to_history(),
    }


def _owner_claims(facts: ContributorFacts) -> dict[str, str]:
    """Posting system -> the owning function it last said the contributor has."""
    claims: dict[str, str] = {}
    for fact in facts.registry:
        payload = fact.payload
        if isinstance(payload, Registered | ProfileUpdated) and payload.owning_function:
            claims[fact.source] = payload.owning_function
    return claims


def _offboarded(lifecycle: Iterable[Interval]) -> list[Span]:
    spans: list[Span] = []
    for iv in lifecycle:
        if iv.lifecycle_state != "offboarded":
            continue
        if spans and spans[-1][1] == iv.valid_from:
            spans[-1] = (spans[-1][0], iv.valid_to)
        else:
            spans.append((iv.valid_from, iv.valid_to))
    return spans


def _latest(policy: Sequence[PolicyFact], kind: type[D]) -> tuple[PolicyFact, D] | None:
    for fact in reversed(policy):
        if isinstance(fact.decision, kind):
            return fact, fact.decision
    return None
