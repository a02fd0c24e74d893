"""The policy's view of one contributor, folded from the registry's events.

Policy keeps only what its rules read. Payloads are read leniently (fields it does not
need, including optional fields newer than this code, are ignored) so a registry that rolls
out a new optional field first never stops policy. `apply` is total: an event type policy
does not need changes nothing but the version, and a payload it cannot read is noted in
`unreadable` rather than raised, so one bad event cannot stall a partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from services.registry.domain import events as registry
from services.registry.domain.values import (
    CheckName,
    CheckOutcome,
    Classification,
    DeiProgram,
    LifecycleState,
)


@dataclass(frozen=True, slots=True)
class ContractTerm:
    contract_id: str
    start: date
    end: date | None
    """Last day of the contract (the termination date once terminated); None: open-ended."""
    terminated: bool = False


@dataclass(frozen=True, slots=True)
class CheckOnFile:
    check: CheckName
    outcome: CheckOutcome
    valid_until: date | None
    """Last day the vendor says the result counts; None: no expiry from the vendor."""
    recorded_on: date
    """When the result took effect: the policy's own validity period counts from here."""


@dataclass(frozen=True, slots=True)
class GrantHeld:
    grant_id: str
    resource: str
    classification: Classification
    expires_at: datetime | None
    granted_on: date


@dataclass(frozen=True, slots=True)
class PolicyView:
    id: str = ""
    contributor_type: str = ""
    lifecycle: LifecycleState = "invited"
    sponsor: str | None = None
    registered: bool = False
    requirements_since: date | None = None
    """When the current set of requirements started to apply: registration, re-engagement
    or type conversion. Grace for a check never done counts from here."""
    offboarded_on: date | None = None
    contracts: Mapping[str, ContractTerm] = field(default_factory=dict)
    checks: Mapping[str, CheckOnFile] = field(default_factory=dict)
    """Latest result per check name."""
    grants: Mapping[str, GrantHeld] = field(default_factory=dict)
    """Grants held now; a revoked grant is gone."""
    dei_enrolments: frozenset[DeiProgram] = frozenset()
    version: int = 0
    """The contributor stream version this view reflects."""
    unreadable: tuple[int, ...] = ()
    """Versions of events of a needed type whose payload could not be read."""


class _Lenient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Registered(_Lenient):
    contributor_id: str
    contributor_type: str
    sponsor: str | None = None


class _Sponsor(_Lenient):
    sponsor: str | None = None


class _TypeConverted(_Lenient):
    to_type: str


class _Contract(_Lenient):
    contract_id: str
    start: date
    end: date | None = None


class _Check(_Lenient):
    check: CheckName
    outcome: CheckOutcome
    valid_until: date | None = None


class _Grant(_Lenient):
    grant_id: str
    resource: str
    classification: Classification
    expires_at: AwareDatetime | None = None


class _GrantId(_Lenient):
    grant_id: str


class _Program(_Lenient):
    program: DeiProgram


_LIFECYCLE: Mapping[str, LifecycleState] = {
    registry.OnboardingStarted.TYPE: "onboarding",
    registry.Activated.TYPE: "active",
    registry.Reinstated.TYPE: "active",
    registry.Suspended.TYPE: "suspended",
}
_CONTRACT_TYPES = frozenset(
    {
        registry.ContractAdded.TYPE,
        registry.ContractAmended.TYPE,
        registry.ContractExtended.TYPE,
        registry.ContractTerminated.TYPE,
    }
)


def apply(
    view: PolicyView | None,
    event_type: str,
    data: Mapping[str, Any],
    effective_time: datetime,
    version: int,
) -> PolicyView:
    """The view after one event of the contributor's stream.

    A redelivered event (a version the view already reflects) changes nothing, which makes
    at-least-once delivery safe to fold.
    """
    current = view if view is not None else PolicyView()
    if version <= current.version:
        return current
    try:
        evolved = _evolve(current, event_type, data, effective_time.date())
    except ValidationError:
        evolved = replace(current, unreadable=(*current.unreadable, version))
    return replace(evolved, version=version)


def fold(
    events: Iterable[tuple[str, Mapping[str, Any], datetime, int]],
    view: PolicyView | None = None,
) -> PolicyView:
    """`apply` over (type, data, effective time, version) tuples in stream order."""
    current = view if view is not None else PolicyView()
    for event_type, data, effective_time, version in events:
        current = apply(current, event_type, data, effective_time, version)
    return current


def _evolve(v: PolicyView, event_type: str, data: Mapping[str, Any], day: date) -> PolicyView:
    if event_type in _LIFECYCLE:
        return replace(v, lifecycle=_LIFECYCLE[event_type])
    if event_type in _CONTRACT_TYPES:
        return _contract(v, _Contract.model_validate(data), event_type)
    if event_type == registry.Registered.TYPE:
        reg = _Registered.model_validate(data)
        return replace(
            v,
            id=reg.contributor_id,
            contributor_type=reg.contributor_type,
            sponsor=reg.sponsor,
            registered=True,
            requirements_since=v.requirements_since or day,
        )
    if event_type == registry.Reengaged.TYPE:
        return replace(v, lifecycle="onboarding", requirements_since=day, offboarded_on=None)
    if event_type == registry.Offboarded.TYPE:
        return replace(v, lifecycle="offboarded", offboarded_on=day)
    if event_type == registry.TypeConverted.TYPE:
        converted = _TypeConverted.model_validate(data)
        return replace(v, contributor_type=converted.to_type, requirements_since=day)
    if event_type == registry.ProfileUpdated.TYPE:
        sponsor = _Sponsor.model_validate(data).sponsor
        return v if sponsor is None else replace(v, sponsor=sponsor)
    return _safeguard(v, event_type, data, day)


def _safeguard(v: PolicyView, event_type: str, data: Mapping[str, Any], day: date) -> PolicyView:
    if event_type == registry.CheckRecorded.TYPE:
        c = _Check.model_validate(data)
        on_file = CheckOnFile(c.check, c.outcome, c.valid_until, day)
        return replace(v, checks={**v.checks, c.check: on_file})
    if event_type == registry.AccessGranted.TYPE:
        g = _Grant.model_validate(data)
        held = GrantHeld(g.grant_id, g.resource, g.classification, g.expires_at, day)
        return replace(v, grants={**v.grants, g.grant_id: held})
    if event_type == registry.AccessRevoked.TYPE:
        gone = _GrantId.model_validate(data).grant_id
        return replace(v, grants={k: g for k, g in v.grants.items() if k != gone})
    if event_type == registry.DeiProgramEnrolled.TYPE:
        program = _Program.model_validate(data).program
        return replace(v, dei_enrolments=v.dei_enrolments | {program})
    if event_type == registry.DeiProgramWithdrawn.TYPE:
        program = _Program.model_validate(data).program
        return replace(v, dei_enrolments=v.dei_enrolments - {program})
    return v


def _contract(v: PolicyView, c: _Contract, event_type: str) -> PolicyView:
    existing = v.contracts.get(c.contract_id)
    # Termination is final, as in the registry: a later amendment does not revive it.
    if existing is not None and existing.terminated:
        return v
    terminated = event_type == registry.ContractTerminated.TYPE
    term = ContractTerm(c.contract_id, c.start, c.end, terminated)
    return replace(v, contracts={**v.contracts, c.contract_id: term})
