"""The event store contract, run against PostgreSQL and SQLite alike."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.eventstore.model import (
    NO_STREAM,
    DuplicateEventIdConflict,
    NewEvent,
    UnknownPosition,
    WrongExpectedVersion,
)
from shared.eventstore.store import EventStore
from shared.eventstore.tables import outbox

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def new_event(n: int = 0, **data: object) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        type="org.workforce.test.happened.v1",
        data={"n": n, **data},
        effective_time=T0 + timedelta(days=n),
        metadata={"actor": "test"},
    )


async def test_append_and_read_back_in_version_order(
    engine: AsyncEngine, store: EventStore
) -> None:
    batch = [new_event(i) for i in range(3)]
    async with engine.begin() as conn:
        recorded = await store.append(conn, "c-1", batch, NO_STREAM)
    async with engine.connect() as conn:
        stream = await store.read_stream(conn, "c-1")
        assert await store.stream_version(conn, "c-1") == 3
    assert [e.version for e in stream] == [1, 2, 3]
    assert stream == recorded
    assert [e.event_id for e in stream] == [e.event_id for e in batch]
    assert stream[2].data == {"n": 2}
    assert stream[2].effective_time == T0 + timedelta(days=2)
    assert stream[0].metadata == {"actor": "test"}
    assert stream[0].recorded_time.tzinfo is not None


async def test_stale_expected_version_is_refused_and_writes_nothing(
    engine: AsyncEngine, store: EventStore
) -> None:
    async with engine.begin() as conn:
        await store.append(conn, "c-1", [new_event()], NO_STREAM)
    with pytest.raises(WrongExpectedVersion) as refused:
        async with engine.begin() as conn:
            await store.append(conn, "c-1", [new_event()], NO_STREAM)
    assert (refused.value.expected, refused.value.actual) == (0, 1)
    async with engine.connect() as conn:
        assert len(await store.read_stream(conn, "c-1")) == 1


async def test_any_version_appends_at_the_end(engine: AsyncEngine, store: EventStore) -> None:
    async with engine.begin() as conn:
        await store.append(conn, "c-1", [new_event()], None)
        recorded = await store.append(conn, "c-1", [new_event()], None)
    assert recorded[0].version == 2


async def test_reappending_stored_event_ids_returns_the_stored_events(
    engine: AsyncEngine, store: EventStore
) -> None:
    batch = [new_event(1), new_event(2)]
    async with engine.begin() as conn:
        first = await store.append(conn, "c-1", batch, NO_STREAM)
    async with engine.begin() as conn:
        again = await store.append(conn, "c-1", batch, NO_STREAM)
    assert again == first
    async with engine.connect() as conn:
        assert len(await store.read_stream(conn, "c-1")) == 2
        assert len((await conn.execute(sa.select(outbox))).all()) == 2


async def test_an_event_id_reused_for_another_stream_is_a_conflict(
    engine: AsyncEngine, store: EventStore
) -> None:
    event = new_event()
    async with engine.begin() as conn:
        await store.append(conn, "c-1", [event], NO_STREAM)
    with pytest.raises(DuplicateEventIdConflict):
        async with engine.begin() as conn:
            await store.append(conn, "c-2", [event], NO_STREAM)


async def test_events_and_outbox_commit_or_roll_back_together(
    engine: AsyncEngine, store: EventStore
) -> None:
    async def failing_use_case() -> None:
        async with engine.begin() as conn:
            await store.append(conn, "c-1", [new_event()], NO_STREAM)
            raise RuntimeError("the use case failed after appending")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    async with engine.begin() as conn:
        recorded = await store.append(conn, "c-1", [new_event()], NO_STREAM)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.position, outbox.c.stream_id))).all()
        assert await store.stream_version(conn, "c-1") == 1
    assert [tuple(r) for r in rows] == [(recorded[0].position, "c-1")]


async def test_read_stream_up_to_a_version_and_as_of_a_recorded_time(
    engine: AsyncEngine, store: EventStore
) -> None:
    async with engine.begin() as conn:
        first = await store.append(conn, "c-1", [new_event(1)], NO_STREAM)
    async with engine.begin() as conn:
        await store.append(conn, "c-1", [new_event(2), new_event(3)], 1)
    async with engine.connect() as conn:
        assert [e.version for e in await store.read_stream(conn, "c-1", to_version=2)] == [1, 2]
        known_then = await store.read_stream(conn, "c-1", recorded_as_of=first[0].recorded_time)
        before = first[0].recorded_time - timedelta(microseconds=1)
        assert await store.read_stream(conn, "c-1", recorded_as_of=before) == []
    assert [e.version for e in known_then] == [1]


async def test_read_all_from_a_position(engine: AsyncEngine, store: EventStore) -> None:
    async with engine.begin() as conn:
        a = await store.append(conn, "a", [new_event(1), new_event(2)], NO_STREAM)
        b = await store.append(conn, "b", [new_event(3)], NO_STREAM)
    async with engine.connect() as conn:
        everything = await store.read_all(conn)
        rest = await store.read_all(conn, after=a[0].position)
        page = await store.read_all(conn, limit=2)
        with pytest.raises(UnknownPosition):
            await store.read_all(conn, after=10_000_000)
    assert everything == [*a, *b]
    assert rest == [a[1], b[0]]
    assert page == a


async def test_sixteen_concurrent_writers_on_one_stream(
    engine: AsyncEngine, store: EventStore
) -> None:
    """Each writer appends at the version it read; exactly one wins each version."""
    wins: list[int] = []
    conflicts = 0

    async def writer() -> None:
        nonlocal conflicts
        for _ in range(15):
            async with engine.connect() as conn:
                seen = await store.stream_version(conn, "hot")
            try:
                async with engine.begin() as conn:
                    recorded = await store.append(conn, "hot", [new_event()], seen)
                wins.append(recorded[0].version)
            except WrongExpectedVersion:
                conflicts += 1

    await asyncio.gather(*(writer() for _ in range(16)))
    async with engine.connect() as conn:
        stream = await store.read_stream(conn, "hot")
    assert sorted(wins) == list(range(1, len(stream) + 1))
    assert [e.version for e in stream] == sorted(wins)
    assert len(wins) + conflicts == 16 * 15
    assert conflicts > 0, "16 writers racing on one stream never conflicted: not a race"


async def test_large_batches_keep_the_same_contract(engine: AsyncEngine, store: EventStore) -> None:
    """Large batches take PostgreSQL's COPY path: versions, ids, positions, the outbox and
    both refusals must be exactly those of the one-statement path."""
    batch = [new_event(i) for i in range(150)]
    async with engine.begin() as conn:
        first = await store.append(conn, "big", batch[:100], NO_STREAM)
        second = await store.append(conn, "big", batch[100:], 100)
    async with engine.begin() as conn:
        replayed = await store.append(conn, "big", batch[:100], NO_STREAM)
    with pytest.raises(WrongExpectedVersion):
        async with engine.begin() as conn:
            await store.append(conn, "big", [new_event(i) for i in range(100)], 100)
    async with engine.connect() as conn:
        stream = await store.read_stream(conn, "big")
        boxed = (await conn.execute(sa.select(outbox.c.position))).scalars().all()
        log = await store.read_all(conn, limit=1000)
    assert stream == [*first, *second]
    assert replayed == first
    assert [e.version for e in stream] == list(range(1, 151))
    assert [e.event_id for e in stream] == [e.event_id for e in batch]
    assert sorted(boxed) == sorted(e.position for e in stream)
    assert log == stream
