"""The contributor list read model and the source-reference index, written in the same
transaction as the events they reflect."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters.tables import contributors, source_references
from services.registry.domain.commands import LinkSourceReference, Register, RegistryCommand
from services.registry.domain.state import Contributor
from services.registry.domain.values import SourceReference
from shared.db import text_array, upsert

Key = tuple[str, str]


class SourceReferenceTaken(Exception):
    def __init__(self, reference: SourceReference, owner: str | None) -> None:
        super().__init__(f"{reference.system}:{reference.external_id} belongs to {owner}")
        self.reference = reference
        self.owner = owner


class ProbableDuplicate(Exception):
    def __init__(self, existing_id: str, matched_on: str) -> None:
        super().__init__(f"probable duplicate of {existing_id} (same {matched_on})")
        self.existing_id = existing_id
        self.matched_on = matched_on


@dataclass(frozen=True)
class Row:
    state: Contributor
    created_at: datetime
    updated_at: datetime


_TEXT_COLUMNS = (
    "id",
    "contributor_type",
    "lifecycle",
    "display_name",
    "email",
    "owning_function",
    "sponsor",
    "business_unit",
)
_PG_SAVE = sa.text(
    f"""
    INSERT INTO contributors ({", ".join(_TEXT_COLUMNS)}, version, created_at, updated_at)
    SELECT * FROM unnest({", ".join(f":{c}" for c in _TEXT_COLUMNS)}, :version, :created_at,
                         :updated_at)
    ON CONFLICT (id) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in _TEXT_COLUMNS[1:])},
        version = excluded.version, created_at = excluded.created_at,
        updated_at = excluded.updated_at
    """
).bindparams(
    *(sa.bindparam(c, type_=ARRAY(sa.Text())) for c in _TEXT_COLUMNS),
    sa.bindparam("version", type_=ARRAY(sa.Integer())),
    sa.bindparam("created_at", type_=ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("updated_at", type_=ARRAY(sa.DateTime(timezone=True))),
)
"""A group's rows as one array per column, in one statement, rather than one bind and
execution per row (SQLAlchemy's executemany on asyncpg)."""


async def save(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """Each contributor's row as of their latest state, inserted or replaced."""
    values = [
        {
            "id": r.state.id,
            "contributor_type": r.state.contributor_type,
            "lifecycle": r.state.lifecycle,
            "display_name": r.state.display_name,
            "email": r.state.email,
            "owning_function": r.state.owning_function,
            "sponsor": r.state.sponsor,
            "business_unit": r.state.business_unit,
            "version": r.state.version,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }
        for r in rows
    ]
    if conn.dialect.name == "postgresql" and values:
        await conn.execute(_PG_SAVE, {name: [v[name] for v in values] for name in values[0]})
        return
    await upsert(conn, contributors, values, ["id"])


_HOLDERS = sa.select(contributors.c.email, contributors.c.id).order_by(contributors.c.id)
_PG_HOLDERS = _HOLDERS.where(contributors.c.email == sa.any_(text_array("emails")))


def _key(reference: SourceReference) -> Key:
    return reference.system, reference.external_id


@dataclass
class Identities:
    """Who holds the source references and emails that a set of commands mentions, kept up
    to date in memory while the set is decided, so a command sees what the ones before it
    claimed. The unique key on references still catches a concurrent claim at `claim`."""

    owners: dict[Key, str]
    emails: dict[str, str]
    new_claims: list[SourceReference] = field(default_factory=list)
    claimants: dict[Key, str] = field(default_factory=dict)

    @classmethod
    async def load(cls, conn: AsyncConnection, commands: Iterable[RegistryCommand]) -> Identities:
        refs: set[Key] = set()
        emails: set[str] = set()
        for command in commands:
            if isinstance(command, Register):
                refs.update(map(_key, command.source_references))
                if command.email:
                    emails.add(command.email)
            elif isinstance(command, LinkSourceReference):
                refs.add((command.system, command.external_id))
        owners: dict[Key, str] = {}
        if refs:
            table = source_references.c
            found = await conn.execute(
                sa.select(table.system, table.external_id, table.contributor_id).where(
                    sa.tuple_(table.system, table.external_id).in_(sorted(refs))
                )
            )
            owners = {(r.system, r.external_id): r.contributor_id for r in found}
        holders: dict[str, str] = {}
        if emails:
            if conn.dialect.name == "postgresql":
                found = await conn.execute(_PG_HOLDERS, {"emails": sorted(emails)})
            else:
                found = await conn.execute(_HOLDERS.where(contributors.c.email.in_(emails)))
            for row in found:
                holders.setdefault(row.email, row.id)
        return cls(owners, holders)

    def refuse_duplicates(self, command: Register) -> None:
        """A registration matching someone by a reference or an email is refused."""
        for reference in command.source_references:
            owner = self.owners.get(_key(reference))
            if owner is not None:
                raise ProbableDuplicate(owner, f"{reference.system} reference")
        if command.email and command.email in self.emails:
            raise ProbableDuplicate(self.emails[command.email], "email")

    def check(self, contributor_id: str, claims: Sequence[SourceReference]) -> None:
        for reference in claims:
            owner = self.owners.get(_key(reference))
            if owner not in (None, contributor_id):
                raise SourceReferenceTaken(reference, owner)

    def record(
        self,
        before: Contributor | None,
        after: Contributor,
        claims: Sequence[SourceReference],
    ) -> None:
        for reference in claims:
            if _key(reference) not in self.owners:
                self.owners[_key(reference)] = after.id
                self.new_claims.append(reference)
        old = before.email if before else None
        if old and old != after.email and self.emails.get(old) == after.id:
            del self.emails[old]
        if after.email:
            self.emails.setdefault(after.email, after.id)

    async def claim(self, conn: AsyncConnection) -> None:
        """Stores the new claims. One taken meanwhile by a concurrent transaction is
        refused; skipping the conflict (rather than failing on it) keeps the transaction
        usable to name the owner."""
        if not self.new_claims:
            return
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        table = source_references.c
        rows: list[dict[str, Any]] = [
            {"system": system, "external_id": external_id, "contributor_id": self.owners[key]}
            for key in map(_key, self.new_claims)
            for system, external_id in [key]
        ]
        stored = await conn.execute(
            insert(source_references)
            .on_conflict_do_nothing()
            .returning(table.system, table.external_id),
            rows,
        )
        taken = {_key(r) for r in self.new_claims} - {(s.system, s.external_id) for s in stored}
        if taken:
            system, external_id = min(taken)
            owner = await conn.scalar(
                sa.select(table.contributor_id).where(
                    table.system == system, table.external_id == external_id
                )
            )
            reference = SourceReference(system=system, external_id=external_id)
            raise SourceReferenceTaken(reference, None if owner is None else str(owner))
