"""One command per use case. Commands carry every id they need, so `decide` stays
deterministic; they check shapes only, `decide` checks them against the contributor."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.registry.domain.values import (
    CheckName,
    CheckOutcome,
    Classification,
    DeiProgram,
    EmailAddress,
    ExternalId,
    Identifier,
    Label,
    OffboardingReason,
    OwningFunction,
    Reference,
    RevocationReason,
    SelfIdDimension,
    SourceReference,
    SuspensionReason,
    SystemName,
    TypeName,
)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contributor_id: Identifier
    effective_at: AwareDatetime | None = None
    """When the change took effect; None means now. May lie in the past (back-dating)."""


class Register(Command):
    contributor_type: TypeName
    display_name: Label
    email: EmailAddress | None = None
    owning_function: OwningFunction
    sponsor: Identifier
    business_unit: Label
    source_references: tuple[SourceReference, ...] = ()


class StartOnboarding(Command):
    pass


class Activate(Command):
    pass


class Suspend(Command):
    reason: SuspensionReason


class Reinstate(Command):
    pass


class Offboard(Command):
    reason: OffboardingReason


class Reengage(Command):
    pass


class ConvertType(Command):
    to_type: TypeName


class UpdateProfile(Command):
    """Fields left out (None) stay as they are."""

    display_name: Label | None = None
    email: EmailAddress | None = None
    owning_function: OwningFunction | None = None
    sponsor: Identifier | None = None
    business_unit: Label | None = None


class LinkSourceReference(Command):
    system: SystemName
    external_id: ExternalId


class AddContract(Command):
    contract_id: Identifier
    legal_entity: Label
    start: date
    end: date | None = None
    terms_reference: Reference


class AmendContract(Command):
    """Fields left out (None) stay as they are; use ExtendContract to move only the end."""

    contract_id: Identifier
    legal_entity: Label | None = None
    start: date | None = None
    end: date | None = None
    terms_reference: Reference | None = None


class ExtendContract(Command):
    contract_id: Identifier
    new_end: date


class TerminateContract(Command):
    contract_id: Identifier
    end: date
    """The termination date: the last day of the contract."""


class StartEngagement(Command):
    engagement_id: Identifier
    business_unit: Label
    project: Label | None = None
    sponsor: Identifier
    contract_id: Identifier | None = None
    start: date
    end: date | None = None


class EndEngagement(Command):
    engagement_id: Identifier
    end: date


class RecordCheck(Command):
    check: CheckName
    outcome: CheckOutcome
    valid_until: date | None = None
    evidence_reference: Reference | None = None


class GrantAccess(Command):
    grant_id: Identifier
    resource: Reference
    classification: Classification
    expires_at: AwareDatetime | None = None


class RevokeAccess(Command):
    grant_id: Identifier
    reason: RevocationReason


class EnrolDei(Command):
    program: DeiProgram


class WithdrawDei(Command):
    program: DeiProgram


class RecordSelfIdentification(Command):
    """Only the reference to the encrypted answers and which dimensions they cover."""

    key_reference: Identifier
    dimensions: tuple[SelfIdDimension, ...] = Field(min_length=1)


class EraseSelfIdentification(Command):
    pass


RegistryCommand = (
    Register
    | StartOnboarding
    | Activate
    | Suspend
    | Reinstate
    | Offboard
    | Reengage
    | ConvertType
    | UpdateProfile
    | LinkSourceReference
    | AddContract
    | AmendContract
    | ExtendContract
    | TerminateContract
    | StartEngagement
    | EndEngagement
    | RecordCheck
    | GrantAccess
    | RevokeAccess
    | EnrolDei
    | WithdrawDei
    | RecordSelfIdentification
    | EraseSelfIdentification
)
