"""A reader tailing the log never skips an event that commits late with a lower position.

Writers hold their transactions open for random delays after inserting, so positions are
taken in one order and committed in another. A reader tails `read_all` meanwhile and must
see every event exactly once. The negative control tails by raw position and shows that
the checker does catch the skips the naive scheme makes.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.eventstore.store import EventStore
from shared.eventstore.tables import events
from tests.contract.test_event_store_contract import new_event

WRITERS = 16
EVENTS_PER_TX = 5

Reader = Callable[[AsyncConnection, int | None], Awaitable[list[tuple[int, uuid.UUID]]]]


async def run_tailing(
    engine: AsyncEngine, store: EventStore, total: int, read: Reader
) -> Counter[uuid.UUID]:
    rng = random.Random(7)
    written: list[uuid.UUID] = []
    done = asyncio.Event()
    max_delay = 0.02 if engine.dialect.name == "postgresql" else 0.001

    async def writer(w: int) -> None:
        for t in range(total // (WRITERS * EVENTS_PER_TX)):
            batch = [new_event(i) for i in range(EVENTS_PER_TX)]
            async with engine.begin() as conn:
                await store.append(conn, f"s-{w}-{t % 7}", batch, None)
                await asyncio.sleep(rng.random() * max_delay)
            written.extend(e.event_id for e in batch)

    async def writers() -> None:
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        done.set()

    seen: Counter[uuid.UUID] = Counter()

    async def reader() -> None:
        after: int | None = None
        while True:
            finished = done.is_set()
            async with engine.connect() as conn:
                page = await read(conn, after)
            for position, event_id in page:
                seen[event_id] += 1
                after = position
            if finished and not page:
                return
            if not page:
                await asyncio.sleep(0.001)

    await asyncio.gather(writers(), reader())
    assert len(written) == total
    return seen


async def test_tailing_reader_sees_every_event_exactly_once(
    engine: AsyncEngine, store: EventStore
) -> None:
    async def read(conn: AsyncConnection, after: int | None) -> list[tuple[int, uuid.UUID]]:
        return [(e.position, e.event_id) for e in await store.read_all(conn, after, limit=500)]

    seen = await run_tailing(engine, store, 10_000, read)
    async with engine.connect() as conn:
        stored = set((await conn.execute(sa.select(events.c.event_id))).scalars())
    assert len(stored) == 10_000
    assert set(seen) == stored, f"{len(stored - set(seen))} events skipped"
    assert max(seen.values()) == 1


# SQLite serialises writers, so raw position order is commit order there: nothing to show.
@pytest.mark.parametrize("backend", ["postgres"])
async def test_negative_control_tailing_by_raw_position_skips_late_commits(
    engine: AsyncEngine, store: EventStore
) -> None:
    async def naive(conn: AsyncConnection, after: int | None) -> list[tuple[int, uuid.UUID]]:
        query = sa.select(events.c.position, events.c.event_id).order_by(events.c.position)
        if after is not None:
            query = query.where(events.c.position > after)
        return [(p, i) for p, i in await conn.execute(query.limit(500))]

    seen = await run_tailing(engine, store, 4_000, naive)
    assert len(seen) < 4_000, "the naive reader skipped nothing: the test cannot tell"
