"""Which generation of the projected tables is live, and the lock that makes swapping in a
rebuilt generation atomic with respect to the live consumers.

Every live batch takes the swap lock in shared mode before it touches a projected table;
a rebuild takes it exclusively for the swap. A batch that then finds a newer generation
than the one its consumer's position came from must not write: its position belongs to
the old tables (see `ProjectionConsumer`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.adapters.tables import rebuilds

# Advisory locks are per database; the schema keeps two reporting schemas apart.
_SWAP_LOCK = "hashtextextended('reporting-swap:' || current_schema(), 0)"


async def current(conn: AsyncConnection) -> int:
    """0 until the first rebuild is swapped in."""
    found = await conn.scalar(sa.select(sa.func.max(rebuilds.c.generation)))
    return int(found or 0)


async def enter_batch(conn: AsyncConnection) -> int:
    """The live generation, held until this transaction ends (no swap can commit first)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock_shared({_SWAP_LOCK})"))
    # A statement of its own: under READ COMMITTED it reads after the lock was granted.
    return await current(conn)


async def enter_swap(conn: AsyncConnection) -> int:
    """Waits for the live batches in flight and holds new ones back until this transaction
    ends; returns the live generation."""
    await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_SWAP_LOCK})"))
    return await current(conn)
