"""A contributor as a SCIM User: read from the list read model and the source-reference index
(both written in the same transaction as the events), so a page of Users costs two queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters.tables import contributors, source_references
from services.registry.api.scim_errors import weak_etag
from services.registry.api.scim_schema import CONTRIBUTOR_USER, CORE_USER, ENTERPRISE_USER, PREFIX
from services.registry.domain.values import EmailAddress, OwningFunction
from shared.http.text import IDENTIFIER

UNASSIGNED = "unassigned"
"""Sponsor and business unit of a User provisioned without manager or department: the
registry requires both, SCIM requires neither. Shown as absent in the enterprise extension."""

DEFAULT_TYPE = "employee"
DEFAULT_OWNER: dict[str, OwningFunction] = {
    "employee": "hr",
    "contractor": "procurement",
    "agency_worker": "procurement",
    "gig_worker": "procurement",
    "subcontractor": "procurement",
    "partner": "business_development",
    "app_developer": "developer_relations",
    "digital_agent": "it",
}
"""Owning function of a User created without one; a type an organisation added gets `it`."""

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)


def email_or_none(value: str) -> str | None:
    """The normalised address when `value` looks like an email address."""
    try:
        return _EMAIL.validate_python(value)
    except ValidationError:
        return None


def type_name(value: str) -> str:
    """`Agency Worker`, `agency-worker` and `agency_worker` name one contributor type."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def idp_system(subject: str) -> str:
    """The source-reference system of the calling identity provider: its token subject,
    shaped to the SystemName pattern (e.g. `Okta` -> `okta`, `Entra ID` -> `entra-id`)."""
    cleaned = re.sub(r"[^a-z0-9_.-]+", "-", subject.lower())
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:40].rstrip("-._")
    return cleaned or "scim"


def username_system(system: str) -> str:
    return f"{system}.username"


@dataclass(frozen=True)
class UserRecord:
    id: str
    contributor_type: str
    lifecycle: str
    display_name: str
    email: str | None
    owning_function: str | None
    sponsor: str | None
    business_unit: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    external_id: str | None
    """The calling identity provider's reference, if it has one."""
    username_reference: str | None
    """A userName that is not an email address, as that identity provider gave it."""

    @property
    def user_name(self) -> str:
        return self.username_reference or self.email or self.id


async def load_records(
    conn: AsyncConnection, where: sa.ColumnElement[bool], system: str, *, offset: int, limit: int
) -> list[UserRecord]:
    query = (
        sa.select(contributors).where(where).order_by(contributors.c.id).offset(offset).limit(limit)
    )
    rows = (await conn.execute(query)).mappings().all()
    ids = [str(r["id"]) for r in rows]
    references: dict[tuple[str, str], str] = {}
    if ids:
        found = await conn.execute(
            sa.select(
                source_references.c.contributor_id,
                source_references.c.system,
                source_references.c.external_id,
            )
            .where(
                source_references.c.contributor_id.in_(ids),
                source_references.c.system.in_([system, username_system(system)]),
            )
            .order_by(source_references.c.external_id)
        )
        for contributor_id, ref_system, external_id in found:
            references.setdefault((contributor_id, ref_system), external_id)
    return [
        UserRecord(
            id=str(r["id"]),
            contributor_type=r["contributor_type"],
            lifecycle=r["lifecycle"],
            display_name=r["display_name"],
            email=r["email"],
            owning_function=r["owning_function"],
            sponsor=r["sponsor"],
            business_unit=r["business_unit"],
            version=r["version"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            external_id=references.get((str(r["id"]), system)),
            username_reference=references.get((str(r["id"]), username_system(system))),
        )
        for r in rows
    ]


async def load_record(conn: AsyncConnection, user_id: str, system: str) -> UserRecord | None:
    if not re.fullmatch(IDENTIFIER, user_id):
        return None  # no contributor can have such an id: "no User", not a database error
    found = await load_records(conn, contributors.c.id == user_id, system, offset=0, limit=1)
    return found[0] if found else None


async def count(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> int:
    total = await conn.scalar(sa.select(sa.func.count()).select_from(contributors).where(where))
    return int(total or 0)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def user_resource(r: UserRecord, base: str) -> dict[str, Any]:
    enterprise: dict[str, Any] = {}
    if r.business_unit and r.business_unit != UNASSIGNED:
        enterprise["department"] = r.business_unit
    if r.sponsor and r.sponsor != UNASSIGNED:
        enterprise["manager"] = {"value": r.sponsor}
    resource: dict[str, Any] = {
        "schemas": [CORE_USER, *([ENTERPRISE_USER] if enterprise else []), CONTRIBUTOR_USER],
        "id": r.id,
    }
    if r.external_id is not None:
        resource["externalId"] = r.external_id
    resource |= {
        "userName": r.user_name,
        "displayName": r.display_name,
        "name": {"formatted": r.display_name},
        "active": r.lifecycle == "active",
        "userType": r.contributor_type,
    }
    if r.email:
        resource["emails"] = [{"value": r.email, "type": "work", "primary": True}]
    if enterprise:
        resource[ENTERPRISE_USER] = enterprise
    resource[CONTRIBUTOR_USER] = {
        "contributorType": r.contributor_type,
        "owningFunction": r.owning_function,
        "lifecycle": r.lifecycle,
        "sponsor": r.sponsor,
        "businessUnit": r.business_unit,
    }
    resource["meta"] = {
        "resourceType": "User",
        "created": _timestamp(r.created_at),
        "lastModified": _timestamp(r.updated_at),
        "location": f"{base}{PREFIX}/Users/{r.id}",
        "version": weak_etag(r.version),
    }
    return resource
