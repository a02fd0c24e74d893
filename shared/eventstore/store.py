"""The event store: one interface, a PostgreSQL and a SQLite backend.

Every method takes the caller's connection, so appends share a transaction with whatever
else the use case writes (the outbox always; read models, idempotency records, checkpoints).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import driver_connection, json_text, text_array
from shared.eventstore.model import (
    DuplicateEventIdConflict,
    NewEvent,
    RecordedEvent,
    UnknownPosition,
    WrongExpectedVersion,
)
from shared.eventstore.tables import events, outbox

COLUMNS = (
    events.c.position,
    events.c.event_id,
    events.c.stream_id,
    events.c.version,
    events.c.type,
    events.c.data,
    events.c.metadata,
    events.c.effective_time,
    events.c.recorded_time,
)
_STREAMS = sa.select(*COLUMNS).order_by(events.c.stream_id, events.c.version)
_PG_STREAMS = _STREAMS.where(events.c.stream_id == sa.any_(text_array("streams")))


def _pending(
    stream_id: str,
    new_events: Sequence[NewEvent],
    current: int,
    recorded_time: datetime,
    positions: Sequence[int] | None = None,
) -> list[RecordedEvent]:
    """The events as they will be stored; without `positions` (reserved), positions are 0
    until the database assigns them."""
    return [
        RecordedEvent(
            position=positions[i - 1] if positions is not None else 0,
            event_id=e.event_id,
            stream_id=stream_id,
            version=current + i,
            type=e.type,
            data=e.data,
            metadata=e.metadata,
            effective_time=e.effective_time,
            recorded_time=recorded_time,
        )
        for i, e in enumerate(new_events, start=1)
    ]


COPY_THRESHOLD = 64
"""From this many events, binary COPY beats one INSERT ... SELECT FROM unnest."""


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are refused: say which time zone")
    return moment


def recorded_from_row(row: Any) -> RecordedEvent:
    """From a row of `COLUMNS`."""
    return RecordedEvent(*row)


@dataclass(frozen=True, slots=True)
class StreamAppend:
    stream_id: str
    events: Sequence[NewEvent]
    expected_version: int


class EventStore(ABC):
    async def append(
        self,
        conn: AsyncConnection,
        stream_id: str,
        new_events: Sequence[NewEvent],
        expected_version: int | None,
    ) -> list[RecordedEvent]:
        """Append to a stream, stating the version it must be at (`NO_STREAM` for a new one,
        None for "any"). Re-appending stored event ids returns the stored events."""
        if not new_events:
            return []
        recorded_time = datetime.now(UTC)
        fast = await self._append_unchecked(
            conn, stream_id, new_events, expected_version, recorded_time
        )
        if fast is not None:
            return fast
        ids = [e.event_id for e in new_events]
        current, already = await self._precheck(conn, stream_id, ids)
        if already:
            return await self._replayed(conn, stream_id, ids, already)
        if expected_version is not None and expected_version != current:
            raise WrongExpectedVersion(stream_id, expected_version, current)
        pending = _pending(stream_id, new_events, current, recorded_time)
        rows = [{c.name: getattr(e, c.name) for c in COLUMNS[1:]} for e in pending]
        try:
            result = await conn.execute(
                events.insert().returning(events.c.position, sort_by_parameter_order=True), rows
            )
        except IntegrityError as exc:
            # A concurrent writer took a version (or an id) between the check and the insert.
            raise WrongExpectedVersion(stream_id, expected_version, None) from exc
        recorded = [replace(e, position=row[0]) for e, row in zip(pending, result, strict=True)]
        await conn.execute(
            outbox.insert(), [{"position": e.position, "stream_id": stream_id} for e in recorded]
        )
        return recorded

    async def append_streams(
        self, conn: AsyncConnection, appends: Sequence[StreamAppend]
    ) -> list[list[RecordedEvent]]:
        """Appends to several streams at once, each at the version the caller read (so
        none may be "any"), in the order given. All or nothing: a stream that moved, or an
        event id that is already stored, raises `WrongExpectedVersion` and the caller's
        transaction is unusable; callers that want to tell these cases apart, or replay
        stored ids, append stream by stream instead."""
        return [await self.append(conn, a.stream_id, a.events, a.expected_version) for a in appends]

    async def read_streams(
        self, conn: AsyncConnection, stream_ids: Sequence[str]
    ) -> dict[str, list[RecordedEvent]]:
        """Several whole streams in one query, each in version order; absent ones are empty."""
        found: dict[str, list[RecordedEvent]] = {s: [] for s in stream_ids}
        if not stream_ids:
            return found
        if conn.dialect.name == "postgresql":
            rows = await conn.execute(_PG_STREAMS, {"streams": list(found)})
        else:
            rows = await conn.execute(_STREAMS.where(events.c.stream_id.in_(list(found))))
        for row in rows:
            found[row.stream_id].append(recorded_from_row(row))
        return found

    async def _append_unchecked(
        self,
        conn: AsyncConnection,
        stream_id: str,
        new_events: Sequence[NewEvent],
        expected_version: int | None,
        recorded_time: datetime,
    ) -> list[RecordedEvent] | None:
        """A backend's one-round-trip append for the common case (right version, new ids);
        None sends the append down the general path, which says what went wrong."""
        return None

    async def stream_version(self, conn: AsyncConnection, stream_id: str) -> int:
        current, _ = await self._precheck(conn, stream_id, [])
        return current

    async def read_stream(
        self,
        conn: AsyncConnection,
        stream_id: str,
        *,
        to_version: int | None = None,
        recorded_as_of: datetime | None = None,
    ) -> list[RecordedEvent]:
        """The stream in version order; `recorded_as_of` keeps the longest prefix recorded
        at or before that time (what we knew then)."""
        query = sa.select(*COLUMNS).where(events.c.stream_id == stream_id)
        if to_version is not None:
            query = query.where(events.c.version <= to_version)
        result = await conn.execute(query.order_by(events.c.version))
        stream = [recorded_from_row(row) for row in result]
        if recorded_as_of is None:
            return stream
        known: list[RecordedEvent] = []
        for event in stream:
            if event.recorded_time > recorded_as_of:
                break
            known.append(event)
        return known

    @abstractmethod
    async def read_all(
        self, conn: AsyncConnection, after: int | None = None, limit: int = 1000
    ) -> list[RecordedEvent]:
        """The log in commit order, starting after the event at position `after` (None: from
        the start). A reader that keeps passing the last position it saw never skips an event,
        however late it commits."""

    async def _precheck(
        self, conn: AsyncConnection, stream_id: str, ids: Sequence[UUID]
    ) -> tuple[int, int]:
        current = (
            sa.select(sa.func.coalesce(sa.func.max(events.c.version), 0))
            .where(events.c.stream_id == stream_id)
            .scalar_subquery()
        )
        stored = (
            sa.select(sa.func.count()).where(events.c.event_id.in_(ids)).scalar_subquery()
            if ids
            else sa.literal(0)
        )
        row = (await conn.execute(sa.select(current, stored))).one()
        return int(row[0]), int(row[1])

    async def _replayed(
        self, conn: AsyncConnection, stream_id: str, ids: Sequence[UUID], already: int
    ) -> list[RecordedEvent]:
        result = await conn.execute(
            sa.select(*COLUMNS).where(events.c.event_id.in_(ids)).order_by(events.c.version)
        )
        stored = {e.event_id: e for e in map(recorded_from_row, result)}
        if already != len(ids) or any(e.stream_id != stream_id for e in stored.values()):
            conflicting = next(
                i for i in ids if i not in stored or stored[i].stream_id != stream_id
            )
            raise DuplicateEventIdConflict(conflicting)
        return [stored[i] for i in ids]

    async def _cursor_exists(self, conn: AsyncConnection, position: int) -> None:
        found = await conn.scalar(sa.select(events.c.position).where(events.c.position == position))
        if found is None:
            raise UnknownPosition(position)


class SqliteEventStore(EventStore):
    """SQLite serialises writers (BEGIN IMMEDIATE), so position order is commit order."""

    async def read_all(
        self, conn: AsyncConnection, after: int | None = None, limit: int = 1000
    ) -> list[RecordedEvent]:
        query = sa.select(*COLUMNS).order_by(events.c.position).limit(limit)
        if after is not None:
            await self._cursor_exists(conn, after)
            query = query.where(events.c.position > after)
        return [recorded_from_row(row) for row in await conn.execute(query)]


_EVENT_ARRAYS = (
    sa.bindparam("ids", type_=ARRAY(sa.Uuid())),
    sa.bindparam("types", type_=ARRAY(sa.Text())),
    sa.bindparam("data", type_=ARRAY(sa.Text())),
    sa.bindparam("metadata", type_=ARRAY(sa.Text())),
    sa.bindparam("effective", type_=ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("recorded", type_=sa.DateTime(timezone=True)),
)
"""The parameters both PostgreSQL appends take: the new events' columns, one array each
(the data and metadata as JSON text, cast in the statement), and the recorded time."""


_PG_APPEND = sa.text(
    """
    WITH current AS (
        SELECT coalesce(max(version), 0) AS version FROM events WHERE stream_id = :stream
    ), inserted AS (
        INSERT INTO events (event_id, stream_id, version, type, data, metadata,
                            effective_time, recorded_time)
        SELECT e.event_id, :stream, current.version + e.n, e.type, e.data::jsonb,
               e.metadata::jsonb, e.effective_time, :recorded
        FROM current, unnest(:ids, :types, :data, :metadata, :effective)
             WITH ORDINALITY AS e(event_id, type, data, metadata, effective_time, n)
        WHERE (CAST(:expected AS integer) IS NULL OR current.version = :expected)
          AND NOT EXISTS (SELECT 1 FROM events WHERE event_id = ANY(:ids))
        RETURNING position, version
    ), boxed AS (
        INSERT INTO outbox (position, stream_id) SELECT position, :stream FROM inserted
    )
    SELECT position, version FROM inserted ORDER BY version
    """
).bindparams(*_EVENT_ARRAYS, sa.bindparam("expected", type_=sa.Integer()))


_RESERVE = sa.text(
    "SELECT nextval(pg_get_serial_sequence('events', 'position')) FROM generate_series(1, :n)"
)

_PG_CHECK_AND_RESERVE = sa.text(
    """
    SELECT (SELECT coalesce(max(version), 0) FROM events WHERE stream_id = :stream) AS version,
           (SELECT count(*) FROM events WHERE event_id = ANY(:ids)) AS stored,
           ARRAY(SELECT nextval(pg_get_serial_sequence('events', 'position'))
                 FROM generate_series(1, :n)) AS positions
    """
).bindparams(sa.bindparam("ids", type_=ARRAY(sa.Uuid())))
"""The version check, the duplicate check and the positions for a COPY, in one round trip.
Positions reserved for an append that then takes the general path are skipped: positions
have gaps anyway (rolled-back transactions leave them too)."""


_PG_APPEND_STREAMS = sa.text(
    """
    WITH inserted AS (
        INSERT INTO events (event_id, stream_id, version, type, data, metadata,
                            effective_time, recorded_time)
        SELECT e.event_id, e.stream_id, e.version, e.type, e.data::jsonb, e.metadata::jsonb,
               e.effective_time, :recorded
        FROM unnest(:ids, :streams, :versions, :types, :data, :metadata, :effective)
             WITH ORDINALITY AS e(event_id, stream_id, version, type, data, metadata,
                                  effective_time, n)
        ORDER BY e.n
        RETURNING position, event_id, stream_id
    ), boxed AS (
        INSERT INTO outbox (position, stream_id) SELECT position, stream_id FROM inserted
    )
    SELECT position, event_id FROM inserted
    """
).bindparams(
    *_EVENT_ARRAYS,
    sa.bindparam("streams", type_=ARRAY(sa.Text())),
    sa.bindparam("versions", type_=ARRAY(sa.Integer())),
)


def _columns(pending: Sequence[RecordedEvent], recorded_time: datetime) -> dict[str, Any]:
    return {
        "ids": [e.event_id for e in pending],
        "streams": [e.stream_id for e in pending],
        "versions": [e.version for e in pending],
        "types": [e.type for e in pending],
        "data": [json_text(e.data) for e in pending],
        "metadata": [json_text(e.metadata) for e in pending],
        "effective": [_utc(e.effective_time) for e in pending],
        "recorded": recorded_time,
    }


async def _copy(conn: AsyncConnection, pending: Sequence[RecordedEvent]) -> None:
    """COPYs events whose positions are reserved, and their outbox rows. SQLAlchemy has
    begun the caller's transaction by now (a statement ran), so the COPYs on the driver
    connection run inside it."""
    driver = await driver_connection(conn)
    await driver.copy_records_to_table(
        "events",
        columns=[c.name for c in COLUMNS],
        records=[
            (
                e.position,
                e.event_id,
                e.stream_id,
                e.version,
                e.type,
                json_text(e.data),
                json_text(e.metadata),
                _utc(e.effective_time),
                e.recorded_time,
            )
            for e in pending
        ],
    )
    await driver.copy_records_to_table(
        "outbox",
        columns=["position", "stream_id"],
        records=[(e.position, e.stream_id) for e in pending],
    )


class PostgresEventStore(EventStore):
    """Positions come from an identity column, so a transaction can commit after another
    that took a higher position: tailing by position alone would skip it. The log is read
    in (writing transaction id, position) order instead, and only up to the oldest
    transaction still running (the snapshot's xmin). Every transaction below xmin has
    finished, and any later commit has a transaction id at or above it, so nothing can
    appear behind a reader. The cost: readers trail the oldest open transaction."""

    async def _append_unchecked(
        self,
        conn: AsyncConnection,
        stream_id: str,
        new_events: Sequence[NewEvent],
        expected_version: int | None,
        recorded_time: datetime,
    ) -> list[RecordedEvent] | None:
        if len(new_events) >= COPY_THRESHOLD:
            return await self._append_by_copy(
                conn, stream_id, new_events, expected_version, recorded_time
            )
        params = {
            "stream": stream_id,
            "ids": [e.event_id for e in new_events],
            "types": [e.type for e in new_events],
            "data": [json_text(e.data) for e in new_events],
            "metadata": [json_text(e.metadata) for e in new_events],
            "effective": [_utc(e.effective_time) for e in new_events],
            "recorded": recorded_time,
            "expected": expected_version,
        }
        try:
            rows = (await conn.execute(_PG_APPEND, params)).all()
        except IntegrityError as exc:
            raise WrongExpectedVersion(stream_id, expected_version, None) from exc
        if not rows:
            return None
        positions = [row.position for row in rows]
        return _pending(stream_id, new_events, rows[0].version - 1, recorded_time, positions)

    async def _append_by_copy(
        self,
        conn: AsyncConnection,
        stream_id: str,
        new_events: Sequence[NewEvent],
        expected_version: int | None,
        recorded_time: datetime,
    ) -> list[RecordedEvent] | None:
        """Checks and reserves positions from the identity's sequence, then COPYs the events
        and their outbox rows. The check runs through SQLAlchemy first, which opens the
        caller's transaction, so the COPYs on the driver connection run inside it."""
        params = {
            "stream": stream_id,
            "ids": [e.event_id for e in new_events],
            "n": len(new_events),
        }
        checked = (await conn.execute(_PG_CHECK_AND_RESERVE, params)).one()
        if checked.stored or expected_version not in (None, checked.version):
            return None
        pending = _pending(stream_id, new_events, checked.version, recorded_time, checked.positions)
        try:
            await _copy(conn, pending)
        except asyncpg.UniqueViolationError as exc:
            raise WrongExpectedVersion(stream_id, expected_version, None) from exc
        return pending

    async def append_streams(
        self, conn: AsyncConnection, appends: Sequence[StreamAppend]
    ) -> list[list[RecordedEvent]]:
        """Versions follow from the expected ones, so the unique (stream, version) key
        is the whole concurrency check: one INSERT (or COPY) for every stream."""
        recorded_time = datetime.now(UTC)
        count = sum(len(a.events) for a in appends)
        try:
            if count >= COPY_THRESHOLD:
                reserved = (await conn.execute(_RESERVE, {"n": count})).scalars().all()
                positions = iter(reserved)
                pending = [
                    _pending(
                        a.stream_id,
                        a.events,
                        a.expected_version,
                        recorded_time,
                        [next(positions) for _ in a.events],
                    )
                    for a in appends
                ]
                await _copy(conn, [e for stream in pending for e in stream])
                return pending
            pending = [
                _pending(a.stream_id, a.events, a.expected_version, recorded_time) for a in appends
            ]
            flat = [e for stream in pending for e in stream]
            if not flat:
                return pending
            rows = await conn.execute(_PG_APPEND_STREAMS, _columns(flat, recorded_time))
        except (IntegrityError, asyncpg.UniqueViolationError) as exc:
            stream = appends[0].stream_id if len(appends) == 1 else "one of several"
            raise WrongExpectedVersion(stream, None, None) from exc
        position = {row.event_id: row.position for row in rows}
        return [[replace(e, position=position[e.event_id]) for e in stream] for stream in pending]

    async def read_all(
        self, conn: AsyncConnection, after: int | None = None, limit: int = 1000
    ) -> list[RecordedEvent]:
        tx_id = sa.literal_column("tx_id", sa.BigInteger())
        horizon = sa.literal_column(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", sa.BigInteger()
        )
        query = sa.select(*COLUMNS).where(tx_id < horizon).order_by(tx_id, events.c.position)
        if after is not None:
            cursor_tx = await conn.scalar(
                sa.select(tx_id).select_from(events).where(events.c.position == after)
            )
            if cursor_tx is None:
                raise UnknownPosition(after)
            query = query.where(sa.tuple_(tx_id, events.c.position) > sa.tuple_(cursor_tx, after))
        return [recorded_from_row(row) for row in await conn.execute(query.limit(limit))]


def event_store_for(dialect_name: str) -> EventStore:
    if dialect_name == "postgresql":
        return PostgresEventStore()
    if dialect_name == "sqlite":
        return SqliteEventStore()
    raise ValueError(f"no event store for the {dialect_name} dialect")
