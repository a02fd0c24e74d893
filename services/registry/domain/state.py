"""The contributor aggregate's state: plain frozen values, built only by `apply`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from services.registry.domain.values import (
    CheckName,
    CheckOutcome,
    Classification,
    DeiProgram,
    LifecycleState,
    OwningFunction,
    SelfIdDimension,
    SourceReference,
)

ContractStatus = Literal["in_force", "terminated"]
"""Expiry by date is not a status: the aggregate has no clock. Ask `Contract.covers(day)`."""
EngagementStatus = Literal["open", "ended"]


@dataclass(frozen=True, slots=True)
class Contract:
    contract_id: str
    legal_entity: str
    start: date
    end: date | None
    terms_reference: str
    status: ContractStatus

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class Engagement:
    engagement_id: str
    business_unit: str
    project: str | None
    sponsor: str
    contract_id: str | None
    start: date
    end: date | None
    """Planned end while open, actual end once ended."""
    status: EngagementStatus


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: CheckName
    outcome: CheckOutcome
    valid_until: date | None
    evidence_reference: str | None

    def valid_on(self, day: date) -> bool:
        return self.outcome in ("passed", "waived") and (
            self.valid_until is None or day <= self.valid_until
        )


@dataclass(frozen=True, slots=True)
class AccessGrant:
    grant_id: str
    resource: str
    classification: Classification
    expires_at: datetime | None
    """Expiry is enforced by policy revoking the grant; until then it is held."""


@dataclass(frozen=True, slots=True)
class TypeChange:
    from_type: str
    to_type: str


@dataclass(frozen=True, slots=True)
class SelfIdentificationOnFile:
    key_reference: str
    dimensions: tuple[SelfIdDimension, ...]


@dataclass(frozen=True, slots=True)
class Contributor:
    id: str
    contributor_type: str
    lifecycle: LifecycleState
    display_name: str
    email: str | None
    owning_function: OwningFunction | None
    """None (like `sponsor`, `business_unit`) only while `registered` is False."""
    sponsor: str | None
    business_unit: str | None
    registered: bool
    """False only for a state folded from a stream that lacks its registration (a tolerant
    fold of an incomplete or reordered history); `decide` treats that as not found."""
    version: int
    """Events applied so far: the stream version when folded from a whole stream."""
    source_references: tuple[SourceReference, ...] = ()
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    engagements: Mapping[str, Engagement] = field(default_factory=dict)
    checks: Mapping[CheckName, CheckResult] = field(default_factory=dict)
    grants: Mapping[str, AccessGrant] = field(default_factory=dict)
    """Active grants only; revoked ones are gone from state (they remain in the history)."""
    dei_programs: frozenset[DeiProgram] = frozenset()
    self_identification: SelfIdentificationOnFile | None = None
    type_history: tuple[TypeChange, ...] = ()

    @property
    def self_identification_on_file(self) -> bool:
        return self.self_identification is not None

    @property
    def open_engagements(self) -> tuple[Engagement, ...]:
        return tuple(e for e in self.engagements.values() if e.status == "open")

    @classmethod
    def unregistered(cls) -> Contributor:
        return cls(
            id="",
            contributor_type="",
            lifecycle="invited",
            display_name="",
            email=None,
            owning_function=None,
            sponsor=None,
            business_unit=None,
            registered=False,
            version=0,
        )
