"""The contributor list read model and the source-reference index, written in the same
transaction as the events they reflect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters.tables import contributors, source_references
from services.registry.domain.state import Contributor
from services.registry.domain.values import SourceReference
from shared.db import upsert


class SourceReferenceTaken(Exception):
    def __init__(self, reference: SourceReference, owner: str | None) -> None:
        super().__init__(f"{reference.system}:{reference.external_id} belongs to {owner}")
        self.reference = reference
        self.owner = owner


async def save(
    conn: AsyncConnection, state: Contributor, created_at: datetime, now: datetime
) -> None:
    row = {
        "id": state.id,
        "contributor_type": state.contributor_type,
        "lifecycle": state.lifecycle,
        "display_name": state.display_name,
        "email": state.email,
        "owning_function": state.owning_function,
        "sponsor": state.sponsor,
        "business_unit": state.business_unit,
        "version": state.version,
        "created_at": created_at,
        "updated_at": now,
    }
    await upsert(conn, contributors, [row], ["id"])


async def owner_of(conn: AsyncConnection, reference: SourceReference) -> str | None:
    owner = await conn.scalar(
        sa.select(source_references.c.contributor_id).where(
            source_references.c.system == reference.system,
            source_references.c.external_id == reference.external_id,
        )
    )
    return None if owner is None else str(owner)


async def claim(
    conn: AsyncConnection, contributor_id: str, refs: Sequence[SourceReference]
) -> None:
    """Records the references as this contributor's; a reference another contributor holds
    is refused (the unique key also catches a concurrent claim)."""
    for reference in refs:
        owner = await owner_of(conn, reference)
        if owner == contributor_id:
            continue
        if owner is not None:
            raise SourceReferenceTaken(reference, owner)
        try:
            async with conn.begin_nested():
                await conn.execute(
                    source_references.insert().values(
                        system=reference.system,
                        external_id=reference.external_id,
                        contributor_id=contributor_id,
                    )
                )
        except IntegrityError as exc:
            raise SourceReferenceTaken(reference, await owner_of(conn, reference)) from exc


async def with_email(conn: AsyncConnection, email: str) -> str | None:
    found = await conn.scalar(sa.select(contributors.c.id).where(contributors.c.email == email))
    return None if found is None else str(found)
