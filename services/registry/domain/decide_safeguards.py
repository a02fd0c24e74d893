"""The checks, access, DEI and self-identification part of `decide`."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from services.registry.domain.commands import (
    EnrolDei,
    EraseSelfIdentification,
    GrantAccess,
    RecordCheck,
    RecordSelfIdentification,
    RevokeAccess,
    WithdrawDei,
)
from services.registry.domain.decide_work import require_not_offboarded
from services.registry.domain.errors import InvalidCommand
from services.registry.domain.events import (
    AccessGranted,
    AccessRevoked,
    CheckRecorded,
    DeiProgramEnrolled,
    DeiProgramWithdrawn,
    RegistryEvent,
    SelfIdentificationErased,
    SelfIdentificationRecorded,
)
from services.registry.domain.state import Contributor
from services.registry.domain.types import ContributorTypes

SafeguardCommand = (
    RecordCheck
    | GrantAccess
    | RevokeAccess
    | EnrolDei
    | WithdrawDei
    | RecordSelfIdentification
    | EraseSelfIdentification
)


def safeguard(
    s: Contributor, c: SafeguardCommand, types: ContributorTypes, effective: datetime
) -> RegistryEvent:
    match c:
        case RecordCheck():
            if c.valid_until is not None and c.outcome not in ("passed", "waived"):
                raise InvalidCommand(
                    "validity_without_pass", "only passed or waived results have a validity date"
                )
            return CheckRecorded(
                check=c.check,
                outcome=c.outcome,
                valid_until=c.valid_until,
                evidence_reference=c.evidence_reference,
            )
        case GrantAccess():
            return _grant(s, c, effective)
        case RevokeAccess():
            if c.grant_id not in s.grants:
                raise InvalidCommand("unknown_grant", f"no active grant {c.grant_id!r}")
            return AccessRevoked(grant_id=c.grant_id, reason=c.reason)
        case EnrolDei():
            _require_person(s, types, "DEI programs")
            require_not_offboarded(s, "enrol in a DEI program")
            if c.program in s.dei_programs:
                raise InvalidCommand("already_enrolled", f"already enrolled in {c.program}")
            return DeiProgramEnrolled(program=c.program)
        case WithdrawDei():
            if c.program not in s.dei_programs:
                raise InvalidCommand("not_enrolled", f"not enrolled in {c.program}")
            return DeiProgramWithdrawn(program=c.program)
        case RecordSelfIdentification():
            return _self_identification(s, c, types)
        case EraseSelfIdentification():
            if s.self_identification is None:
                raise InvalidCommand(
                    "self_identification_not_on_file", "no self-identification is on file"
                )
            return SelfIdentificationErased(key_reference=s.self_identification.key_reference)
        case _:
            assert_never(c)


def _grant(s: Contributor, c: GrantAccess, effective: datetime) -> AccessGranted:
    if s.lifecycle not in ("onboarding", "active"):
        raise InvalidCommand(
            "access_not_allowed", f"no access may be granted while the contributor is {s.lifecycle}"
        )
    if c.grant_id in s.grants:
        raise InvalidCommand("grant_exists", f"grant {c.grant_id!r} is already active")
    if c.expires_at is not None and c.expires_at <= effective:
        raise InvalidCommand("grant_already_expired", "the grant would expire before it starts")
    return AccessGranted(
        grant_id=c.grant_id,
        resource=c.resource,
        classification=c.classification,
        expires_at=c.expires_at,
    )


def _require_person(s: Contributor, types: ContributorTypes, what: str) -> None:
    kind = types.kind(s.contributor_type)
    if kind != "person":
        raise InvalidCommand("not_applicable_to_type", f"{what} do not apply to a {kind}")


def _self_identification(
    s: Contributor, c: RecordSelfIdentification, types: ContributorTypes
) -> SelfIdentificationRecorded:
    _require_person(s, types, "self-identification questions")
    require_not_offboarded(s, "record self-identification")
    if len(set(c.dimensions)) != len(c.dimensions):
        raise InvalidCommand("duplicate_dimension", "each dimension may be listed once")
    return SelfIdentificationRecorded(key_reference=c.key_reference, dimensions=c.dimensions)
