"""The contributor aggregate: `apply` one event, `fold` a stream, read it as of a time.

`apply` is total: it never raises for a registry event, whatever order events arrive in,
because folding by effective time reorders history (a back-dated termination lands before
events recorded earlier). Rules are enforced by `decide`; `apply` only records facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import assert_never

from services.registry.domain.events import (
    AccessGranted,
    AccessRevoked,
    Activated,
    CheckRecorded,
    ContractAdded,
    ContractAmended,
    ContractExtended,
    ContractTerminated,
    DeiProgramEnrolled,
    DeiProgramWithdrawn,
    EngagementEnded,
    EngagementStarted,
    Offboarded,
    OnboardingStarted,
    ProfileUpdated,
    Reengaged,
    Registered,
    RegistryEvent,
    Reinstated,
    SelfIdentificationErased,
    SelfIdentificationRecorded,
    SourceReferenceLinked,
    Suspended,
    TypeConverted,
)
from services.registry.domain.events_work import ContractFacts, EngagementFacts
from services.registry.domain.state import (
    AccessGrant,
    CheckResult,
    Contract,
    ContractStatus,
    Contributor,
    Engagement,
    EngagementStatus,
    SelfIdentificationOnFile,
    TypeChange,
)
from services.registry.domain.values import SourceReference

__all__ = [
    "AccessGrant",
    "CheckResult",
    "Contract",
    "Contributor",
    "Engagement",
    "SelfIdentificationOnFile",
    "StoredFact",
    "TypeChange",
    "apply",
    "as_of_effective",
    "fold",
]


@dataclass(frozen=True, slots=True)
class StoredFact:
    """What folding needs of a stored event: its place in the stream, its two times, its
    payload. Adapters build these from the event store's records."""

    version: int
    effective_time: datetime
    recorded_time: datetime
    payload: RegistryEvent


def apply(state: Contributor | None, event: RegistryEvent) -> Contributor:
    current = Contributor.unregistered() if state is None else state
    return replace(_evolve(current, event), version=current.version + 1)


def fold(events: Iterable[RegistryEvent], state: Contributor | None = None) -> Contributor | None:
    """The state after `events` in the order given (stream order for the recorded axis: the
    store returns the prefix up to a version or recorded time, this folds it)."""
    for event in events:
        state = apply(state, event)
    return state


def as_of_effective(facts: Iterable[StoredFact], t: datetime) -> Contributor | None:
    """The state as it was in effect at `t`, as far as it is known now.

    Folds the facts effective at or before `t` in (effective time, version) order. The
    registration is folded first whatever its effective time says relative to facts
    back-dated before it; before the registration took effect there was no contributor.
    """
    ordered = sorted(facts, key=lambda f: f.version)
    registration = next((f for f in ordered if isinstance(f.payload, Registered)), None)
    if registration is None or registration.effective_time > t:
        return None
    rest = sorted(
        (f for f in ordered if f is not registration and f.effective_time <= t),
        key=lambda f: (f.effective_time, f.version),
    )
    return fold((f.payload for f in rest), apply(None, registration.payload))


def _evolve(s: Contributor, event: RegistryEvent) -> Contributor:
    match event:
        case Registered():
            return _registered(s, event)
        case OnboardingStarted() | Reengaged():
            return replace(s, lifecycle="onboarding")
        case Activated() | Reinstated():
            return replace(s, lifecycle="active")
        case Suspended():
            return replace(s, lifecycle="suspended")
        case Offboarded():
            return replace(s, lifecycle="offboarded")
        case TypeConverted():
            change = TypeChange(event.from_type, event.to_type)
            return replace(
                s, contributor_type=event.to_type, type_history=(*s.type_history, change)
            )
        case ProfileUpdated():
            changed = event.model_dump(exclude_none=True)
            return replace(s, **changed)
        case SourceReferenceLinked():
            ref = SourceReference(system=event.system, external_id=event.external_id)
            if ref in s.source_references:
                return s
            return replace(s, source_references=(*s.source_references, ref))
        case ContractAdded() | ContractAmended() | ContractExtended():
            return _contract(s, event, "in_force")
        case ContractTerminated():
            return _contract(s, event, "terminated")
        case EngagementStarted():
            return _engagement(s, event, "open")
        case EngagementEnded():
            return _engagement(s, event, "ended")
        case CheckRecorded():
            result = CheckResult(
                event.check, event.outcome, event.valid_until, event.evidence_reference
            )
            return replace(s, checks={**s.checks, event.check: result})
        case AccessGranted():
            grant = AccessGrant(
                event.grant_id, event.resource, event.classification, event.expires_at
            )
            return replace(s, grants={**s.grants, event.grant_id: grant})
        case AccessRevoked():
            return replace(s, grants={k: g for k, g in s.grants.items() if k != event.grant_id})
        case DeiProgramEnrolled():
            return replace(s, dei_programs=s.dei_programs | {event.program})
        case DeiProgramWithdrawn():
            return replace(s, dei_programs=s.dei_programs - {event.program})
        case SelfIdentificationRecorded():
            on_file = SelfIdentificationOnFile(event.key_reference, event.dimensions)
            return replace(s, self_identification=on_file)
        case SelfIdentificationErased():
            return replace(s, self_identification=None)
        case _:
            assert_never(event)


def _registered(s: Contributor, event: Registered) -> Contributor:
    refs = (
        *s.source_references,
        *(r for r in event.source_references if r not in s.source_references),
    )
    return replace(
        s,
        id=event.contributor_id,
        contributor_type=event.contributor_type,
        # A registration folded after other facts keeps the lifecycle they set.
        lifecycle=event.initial_state if s.version == 0 else s.lifecycle,
        display_name=event.display_name,
        email=event.email,
        owning_function=event.owning_function,
        sponsor=event.sponsor,
        business_unit=event.business_unit,
        registered=True,
        source_references=refs,
    )


def _contract(s: Contributor, event: ContractFacts, status: ContractStatus) -> Contributor:
    existing = s.contracts.get(event.contract_id)
    # Termination is final: an amendment that takes effect after it changes nothing.
    if existing is not None and existing.status == "terminated":
        return s
    contract = Contract(
        event.contract_id, event.legal_entity, event.start, event.end, event.terms_reference, status
    )
    return replace(s, contracts={**s.contracts, event.contract_id: contract})


def _engagement(s: Contributor, event: EngagementFacts, status: EngagementStatus) -> Contributor:
    existing = s.engagements.get(event.engagement_id)
    if existing is not None and existing.status == "ended":
        return s
    engagement = Engagement(
        event.engagement_id,
        event.business_unit,
        event.project,
        event.sponsor,
        event.contract_id,
        event.start,
        event.end,
        status,
    )
    return replace(s, engagements={**s.engagements, event.engagement_id: engagement})
