"""How a publication's re-evaluation is shared out among processes.

Re-evaluating is Python at work (decoding, evaluating, encoding: about 100 µs of CPU per
contributor), so one process re-evaluates at most what one CPU does. On PostgreSQL, the
contributors still evaluated under another policy than the one in force are cut by id into
slices of about a chunk each (`split`); the publishing process and the processes started
for the publication take the slices one at a time, whichever asks first (`Slices.claim`).
Handed out that way rather than one range per process, the processes finish together: a
process started late (a fresh interpreter takes about a second to import the service), or
slowed by other work on its CPU, simply takes fewer slices. The slices cover every id, so
a contributor registered meanwhile falls in one of them too. With few stale contributors
(a service starting after a finished publication: none) no process is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from services.policy.adapters.tables import contributor_policy
from shared.processes import SPAWN

SHARE_MINIMUM = 10_000
"""Contributors a process must have to re-evaluate before one is started for them: it
takes about 0.7 s to start (a fresh interpreter importing the service), what re-evaluating
a few thousand contributors takes."""
SLICES = 64
"""The finest cut: at most this many slices, so a process is never left with more than
about a 64th of the work to finish alone."""


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


class Slices:
    """Id ranges handed out one at a time, each to exactly one taker, among the processes
    this object is passed to when they are started (its counter is shared memory)."""

    def __init__(self, spans: tuple[IdRange, ...]) -> None:
        self.spans = spans
        self._taken: Any = SPAWN.Value("i", 0)

    def claim(self) -> IdRange | None:
        """The next range nobody took; None once all are taken."""
        with self._taken.get_lock():
            taken: int = self._taken.value
            if taken >= len(self.spans):
                return None
            self._taken.value = taken + 1
        return self.spans[taken]


@dataclass(frozen=True, slots=True)
class Split:
    """How many processes re-evaluate, and the slices they take."""

    processes: int
    spans: tuple[IdRange, ...]


ALONE = Split(1, (EVERYONE,))

_STALE = (
    contributor_policy.c.evaluation["policy_hash"]
    .as_string()
    .is_distinct_from(sa.bindparam("in_force"))
)
_FRACTIONS = [cut / SLICES for cut in range(1, SLICES)]
_CUTS = sa.select(
    sa.func.count().label("stale"),
    sa.func.percentile_disc(sa.bindparam("fractions", type_=ARRAY(sa.Float())))
    .within_group(contributor_policy.c.contributor_id)
    .label("bounds"),
).where(_STALE)
"""How many contributors are stale, and the ids that cut them, in id order, into `SLICES`
slices of as many each: one scan of the table for both."""


async def split(db: AsyncEngine, sharing: Sharing | None, in_force: str, chunk: int) -> Split:
    """The processes and slices for the contributors not yet evaluated under the policy with
    hash `in_force`: about `chunk` of them per slice (at least one slice per process, at
    most `SLICES`). `ALONE` without sharing, on SQLite (one writer at a time) or when there
    are too few of them to share."""
    if sharing is None or sharing.processes <= 1 or db.dialect.name != "postgresql":
        return ALONE
    async with db.connect() as conn:
        found = (await conn.execute(_CUTS, {"fractions": _FRACTIONS, "in_force": in_force})).one()
    processes = min(sharing.processes, found.stale // sharing.minimum)
    if processes <= 1:
        return ALONE
    wanted = max(processes, min(SLICES, found.stale // chunk))
    bounds: list[str] = found.bounds
    # Every SLICES/wanted-th of the fine cuts. With fewer stale contributors than SLICES
    # (tests share a few dozen), neighbouring cuts repeat an id: each once, no empty slice.
    picked = dict.fromkeys(bounds[round(n * SLICES / wanted) - 1] for n in range(1, wanted))
    edges: list[str | None] = ["", *picked, None]
    spans = tuple(IdRange(edges[n] or "", edges[n + 1]) for n in range(len(edges) - 1))
    return Split(processes, spans)
