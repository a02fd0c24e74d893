"""What the REST API returns: the public view of a contributor and of its history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from services.registry.domain.state import Contributor
from shared.eventstore.model import RecordedEvent


class ContractOut(BaseModel):
    contract_id: str
    legal_entity: str
    start: date
    end: date | None
    terms_reference: str
    status: str


class EngagementOut(BaseModel):
    engagement_id: str
    business_unit: str
    project: str | None
    sponsor: str
    contract_id: str | None
    start: date
    end: date | None
    status: str


class CheckOut(BaseModel):
    check: str
    outcome: str
    valid_until: date | None
    evidence_reference: str | None


class GrantOut(BaseModel):
    grant_id: str
    resource: str
    classification: str
    expires_at: datetime | None


class ReferenceOut(BaseModel):
    system: str
    external_id: str


class TypeChangeOut(BaseModel):
    from_type: str
    to_type: str


class ContributorOut(BaseModel):
    id: str
    contributor_type: str
    lifecycle: str
    display_name: str
    email: str | None
    owning_function: str | None
    sponsor: str | None
    business_unit: str | None
    version: int
    source_references: list[ReferenceOut]
    contracts: list[ContractOut]
    engagements: list[EngagementOut]
    checks: list[CheckOut]
    access_grants: list[GrantOut]
    dei_programs: list[str]
    self_identification_on_file: bool
    type_history: list[TypeChangeOut]


class ContributorSummary(BaseModel):
    id: str
    contributor_type: str
    lifecycle: str
    display_name: str
    email: str | None
    owning_function: str | None
    sponsor: str | None
    business_unit: str | None
    version: int
    updated_at: datetime


class ContributorPage(BaseModel):
    items: list[ContributorSummary]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    event_id: str
    version: int
    type: str
    data: dict[str, Any]
    effective_time: datetime
    recorded_time: datetime


def contributor_out(c: Contributor) -> ContributorOut:
    return ContributorOut(
        id=c.id,
        contributor_type=c.contributor_type,
        lifecycle=c.lifecycle,
        display_name=c.display_name,
        email=c.email,
        owning_function=c.owning_function,
        sponsor=c.sponsor,
        business_unit=c.business_unit,
        version=c.version,
        source_references=[
            ReferenceOut(system=r.system, external_id=r.external_id) for r in c.source_references
        ],
        contracts=[
            ContractOut.model_validate(x, from_attributes=True) for x in c.contracts.values()
        ],
        engagements=[
            EngagementOut.model_validate(x, from_attributes=True) for x in c.engagements.values()
        ],
        checks=[CheckOut.model_validate(x, from_attributes=True) for x in c.checks.values()],
        access_grants=[GrantOut.model_validate(x, from_attributes=True) for x in c.grants.values()],
        dei_programs=sorted(c.dei_programs),
        self_identification_on_file=c.self_identification_on_file,
        type_history=[
            TypeChangeOut.model_validate(x, from_attributes=True) for x in c.type_history
        ],
    )


def history_entry(e: RecordedEvent) -> HistoryEntry:
    return HistoryEntry(
        event_id=str(e.event_id),
        version=e.version,
        type=e.type,
        data=dict(e.data),
        effective_time=e.effective_time,
        recorded_time=e.recorded_time,
    )
