"""`decide`: what a command means for a contributor, as events, or why it is refused.

Pure and deterministic: the time comes in as `now`, every id comes in on the command, and
events come out in the order they must be stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, assert_never

from services.registry.domain import decide_safeguards, decide_work
from services.registry.domain.commands import (
    Activate,
    AddContract,
    AmendContract,
    ConvertType,
    EndEngagement,
    EnrolDei,
    EraseSelfIdentification,
    ExtendContract,
    GrantAccess,
    LinkSourceReference,
    Offboard,
    RecordCheck,
    RecordSelfIdentification,
    Reengage,
    Register,
    RegistryCommand,
    Reinstate,
    RevokeAccess,
    StartEngagement,
    StartOnboarding,
    Suspend,
    TerminateContract,
    UpdateProfile,
    WithdrawDei,
)
from services.registry.domain.errors import (
    AlreadyRegistered,
    ContributorNotFound,
    IllegalTransition,
    InvalidCommand,
    UnknownContributorType,
)
from services.registry.domain.events import (
    AccessRevoked,
    Activated,
    EngagementEnded,
    Offboarded,
    OnboardingStarted,
    ProfileUpdated,
    Reengaged,
    Registered,
    RegistryEvent,
    Reinstated,
    SourceReferenceLinked,
    Suspended,
    TypeConverted,
)
from services.registry.domain.state import Contributor
from services.registry.domain.types import ContributorTypes
from services.registry.domain.values import LifecycleState, SourceReference

CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)
"""How far `effective_at` may lie after `now`: callers' clocks drift; the future is no fact."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Decision:
    event: RegistryEvent
    effective_at: datetime


def decide(
    state: Contributor | None, command: RegistryCommand, *, now: datetime, types: ContributorTypes
) -> list[Decision]:
    """The events `command` produces against `state`, each with its effective time.

    Raises a `DomainError` when the command is refused. An empty list means the command
    asks for what is already the case (e.g. linking a reference that is already linked).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    effective = command.effective_at or now
    if effective > now + CLOCK_SKEW_TOLERANCE:
        raise InvalidCommand("effective_in_future", "a change cannot take effect in the future")
    return [Decision(event, effective) for event in _events(state, command, types, effective)]


def _events(
    state: Contributor | None, c: RegistryCommand, types: ContributorTypes, effective: datetime
) -> list[RegistryEvent]:
    if isinstance(c, Register):
        return [_register(state, c, types)]
    s = _existing(state, c.contributor_id)
    match c:
        case StartOnboarding():
            return [_transition(s, c, ("invited",), OnboardingStarted())]
        case Activate():
            return [_transition(s, c, ("onboarding",), Activated())]
        case Suspend():
            return [_transition(s, c, ("active",), Suspended(reason=c.reason))]
        case Reinstate():
            return [_transition(s, c, ("suspended",), Reinstated())]
        case Reengage():
            return [_transition(s, c, ("offboarded",), Reengaged())]
        case Offboard():
            return _offboard(s, c, effective)
        case ConvertType():
            return [_convert(s, c, types)]
        case UpdateProfile():
            return _update_profile(s, c)
        case LinkSourceReference():
            ref = SourceReference(system=c.system, external_id=c.external_id)
            if ref in s.source_references:
                return []
            return [SourceReferenceLinked(system=c.system, external_id=c.external_id)]
        case AddContract() | AmendContract() | ExtendContract() | TerminateContract():
            return decide_work.contract(s, c)
        case StartEngagement() | EndEngagement():
            return decide_work.engagement(s, c)
        case (
            RecordCheck()
            | GrantAccess()
            | RevokeAccess()
            | EnrolDei()
            | WithdrawDei()
            | RecordSelfIdentification()
            | EraseSelfIdentification()
        ):
            return [decide_safeguards.safeguard(s, c, types, effective)]
        case _:
            assert_never(c)


def _register(state: Contributor | None, c: Register, types: ContributorTypes) -> Registered:
    if state is not None and state.registered:
        raise AlreadyRegistered(c.contributor_id)
    if c.contributor_type not in types:
        raise UnknownContributorType(c.contributor_type)
    if len(set(c.source_references)) != len(c.source_references):
        raise InvalidCommand("duplicate_source_reference", "source references must be unique")
    return Registered(
        contributor_id=c.contributor_id,
        contributor_type=c.contributor_type,
        display_name=c.display_name,
        email=c.email,
        owning_function=c.owning_function,
        sponsor=c.sponsor,
        business_unit=c.business_unit,
        source_references=c.source_references,
    )


def _existing(state: Contributor | None, contributor_id: str) -> Contributor:
    if state is None or not state.registered:
        raise ContributorNotFound(contributor_id)
    if state.id != contributor_id:
        raise InvalidCommand(
            "contributor_mismatch", f"command for {contributor_id!r} given {state.id!r}"
        )
    return state


def _transition(
    s: Contributor, c: RegistryCommand, allowed: tuple[LifecycleState, ...], event: T
) -> T:
    if s.lifecycle not in allowed:
        raise IllegalTransition(s.lifecycle, type(c).__name__)
    return event


def _offboard(s: Contributor, c: Offboard, effective: datetime) -> list[RegistryEvent]:
    """Revoke every grant, then end every open engagement, then offboard: consumers that see
    `offboarded` may rely on nothing being left open."""
    if s.lifecycle == "offboarded":
        raise IllegalTransition(s.lifecycle, type(c).__name__)
    day = effective.date()
    events: list[RegistryEvent] = [
        AccessRevoked(grant_id=grant_id, reason="offboarded") for grant_id in sorted(s.grants)
    ]
    for e in sorted(s.open_engagements, key=lambda e: e.engagement_id):
        # A planned end already passed is when it really ended; one not yet begun ends at once.
        end = max(e.start, day if e.end is None else min(e.end, day))
        events.append(
            EngagementEnded(
                engagement_id=e.engagement_id,
                business_unit=e.business_unit,
                project=e.project,
                sponsor=e.sponsor,
                contract_id=e.contract_id,
                start=e.start,
                end=end,
            )
        )
    events.append(Offboarded(reason=c.reason))
    return events


def _convert(s: Contributor, c: ConvertType, types: ContributorTypes) -> TypeConverted:
    decide_work.require_not_offboarded(s, "convert type")
    if c.to_type not in types:
        raise UnknownContributorType(c.to_type)
    if c.to_type == s.contributor_type:
        raise InvalidCommand("same_type", f"the contributor already is a {c.to_type}")
    # One identity for life: a person stays a person; a firm or an agent is someone else.
    if s.contributor_type in types and types.kind(s.contributor_type) != types.kind(c.to_type):
        raise InvalidCommand(
            "kind_change",
            f"a {types.kind(s.contributor_type)} cannot become a {types.kind(c.to_type)}",
        )
    return TypeConverted(from_type=s.contributor_type, to_type=c.to_type)


def _changed(new: T | None, old: T | None) -> T | None:
    return new if new is not None and new != old else None


def _update_profile(s: Contributor, c: UpdateProfile) -> list[RegistryEvent]:
    if not c.model_fields_set - {"contributor_id", "effective_at"}:
        raise InvalidCommand("empty_update", "a profile update names at least one field")
    display_name = _changed(c.display_name, s.display_name)
    email = _changed(c.email, s.email)
    owning_function = _changed(c.owning_function, s.owning_function)
    sponsor = _changed(c.sponsor, s.sponsor)
    business_unit = _changed(c.business_unit, s.business_unit)
    if (display_name, email, owning_function, sponsor, business_unit) == (None,) * 5:
        return []
    return [
        ProfileUpdated(
            display_name=display_name,
            email=email,
            owning_function=owning_function,
            sponsor=sponsor,
            business_unit=business_unit,
        )
    ]
