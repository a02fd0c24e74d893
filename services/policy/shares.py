"""How a publication's re-evaluation is shared out among processes.

Re-evaluating is Python at work (decoding, evaluating, encoding: about 100 µs of CPU per
contributor), so one process re-evaluates at most what one CPU does. On PostgreSQL, the
contributors still evaluated under another policy than the one in force are split by id
into ranges of about as many each, one per process: the first is re-evaluated by the
publishing process, each other by a process started for it (`PolicyEngine.catch_up`).
The ranges cover every id, so a contributor registered meanwhile falls in one of them
too. With few stale contributors (a service starting after a finished publication: none)
no process is started.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from services.policy.adapters.tables import contributor_policy

SHARE_MINIMUM = 10_000
"""Contributors a process must have to re-evaluate before one is started for them: it
takes about 0.7 s to start (a fresh interpreter importing the service), what re-evaluating
a few thousand contributors takes."""


@dataclass(frozen=True, slots=True)
class Sharing:
    """Where processes started to share a re-evaluation find the database, and how many
    may run, the publishing one included."""

    url: str
    schema: str
    processes: int
    minimum: int = SHARE_MINIMUM
    """Contributors per process below which fewer processes are used."""


@dataclass(frozen=True, slots=True)
class IdRange:
    """The contributors whose ids sort after `after`, up to and including `through`
    (None: no end)."""

    after: str = ""
    through: str | None = None


EVERYONE = IdRange()

_STALE = (
    contributor_policy.c.evaluation["policy_hash"]
    .as_string()
    .is_distinct_from(sa.bindparam("in_force"))
)
_STALE_COUNT = sa.select(sa.func.count()).select_from(contributor_policy).where(_STALE)
_BOUNDS = sa.select(
    sa.func.percentile_disc(sa.bindparam("fractions", type_=ARRAY(sa.Float())))
    .within_group(contributor_policy.c.contributor_id)
    .label("bounds")
).where(_STALE)
"""The ids that cut the stale contributors, in id order, at these fractions."""


async def ranges(db: AsyncEngine, sharing: Sharing | None, in_force: str) -> list[IdRange]:
    """One range per process, of about as many contributors not yet evaluated under the
    policy with hash `in_force` each: `EVERYONE` alone without sharing, on SQLite (one
    writer at a time) or when there are too few of them to share."""
    if sharing is None or sharing.processes <= 1 or db.dialect.name != "postgresql":
        return [EVERYONE]
    async with db.connect() as conn:
        stale = await conn.scalar(_STALE_COUNT, {"in_force": in_force}) or 0
        processes = min(sharing.processes, stale // sharing.minimum)
        if processes <= 1:
            return [EVERYONE]
        fractions = [share / processes for share in range(1, processes)]
        cut = {"fractions": fractions, "in_force": in_force}
        bounds: list[str] = (await conn.execute(_BOUNDS, cut)).scalar_one()
    edges: list[str | None] = ["", *bounds, None]
    return [IdRange(edges[n] or "", edges[n + 1]) for n in range(processes)]
