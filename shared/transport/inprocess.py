"""The in-process transport for the embedded mode: Kafka's contract over one SQLite file.

The log is durable because the embedded consumers keep their offsets in their own SQLite
databases: after a restart those offsets must still point at the same records. Keys land
on the partition Kafka would choose, and consumer groups split partitions inside the
process with the same revoke-all-then-assign rebalance that Kafka's classic protocol runs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from shared.transport.base import (
    AssignmentListener,
    IncomingMessage,
    OutgoingMessage,
    TopicPartition,
    TransportError,
)
from shared.transport.partitioning import assign_round_robin, partition_for_key

DEFAULT_PARTITIONS = 6
_T = TypeVar("_T")

_metadata = sa.MetaData()
_topics = sa.Table(
    "transport_topics",
    _metadata,
    sa.Column("topic", sa.String, primary_key=True),
    sa.Column("partitions", sa.Integer, nullable=False),
)
_records = sa.Table(
    "transport_records",
    _metadata,
    sa.Column("topic", sa.String, primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True),
    sa.Column("key", sa.LargeBinary),
    sa.Column("value", sa.LargeBinary),
    sa.Column("headers", sa.JSON, nullable=False),  # name -> base64, as JSON has no bytes
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
)


def _use_wal(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets fetchers read while a publish commits; synchronous=FULL keeps WAL durable.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class InProcessLog:
    """Topics, records and consumer groups of the embedded mode. `open` before use."""

    def __init__(
        self, url: str = "sqlite+aiosqlite://", default_partitions: int = DEFAULT_PARTITIONS
    ) -> None:
        in_memory = make_url(url).database in (None, "", ":memory:")
        # An in-memory database lives in one connection, so every session must share it.
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=StaticPool if in_memory else None
        )
        sa.event.listen(self._engine.sync_engine, "connect", _use_wal)
        self._default_partitions = default_partitions
        self._partitions: dict[str, int] = {}
        self._end: dict[TopicPartition, int] = {}
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._changes = 0
        self._groups: dict[str, _Group] = {}

    async def open(self) -> None:
        last = sa.func.max(_records.c.offset)
        ends_query = sa.select(_records.c.topic, _records.c.partition, last).group_by(
            _records.c.topic, _records.c.partition
        )
        async with self._engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)
            topics = (await conn.execute(sa.select(_topics))).all()
            ends = (await conn.execute(ends_query)).all()
        self._partitions = {topic: int(count) for topic, count in topics}
        self._end = {TopicPartition(t, p): 0 for t, count in topics for p in range(count)}
        self._end.update({TopicPartition(t, p): offset + 1 for t, p, offset in ends})

    async def close(self) -> None:
        await self._engine.dispose()

    async def create_topic(self, topic: str, partitions: int | None = None) -> int:
        """Creates the topic unless it exists; returns its partition count, fixed at creation."""
        async with self._write_lock:
            if topic not in self._partitions:
                count = partitions or self._default_partitions
                async with self._engine.begin() as conn:
                    await conn.execute(sa.insert(_topics).values(topic=topic, partitions=count))
                self._partitions[topic] = count
                self._end.update({TopicPartition(topic, p): 0 for p in range(count)})
            return self._partitions[topic]

    def partitions(self, topic: str) -> list[TopicPartition]:
        if topic not in self._partitions:
            raise TransportError(f"unknown topic {topic!r}: create it first")
        return [TopicPartition(topic, p) for p in range(self._partitions[topic])]

    def end_offset(self, tp: TopicPartition) -> int:
        if tp not in self._end:
            raise TransportError(f"unknown partition {tp}")
        return self._end[tp]

    async def append(self, messages: Sequence[OutgoingMessage]) -> None:
        """Appends all messages in one transaction: all are stored, or none."""
        now_ms = time.time_ns() // 1_000_000
        async with self._write_lock:
            next_offsets: dict[TopicPartition, int] = {}
            rows = []
            for m in messages:
                tp = TopicPartition(
                    m.topic, partition_for_key(m.key, len(self.partitions(m.topic)))
                )
                offset = next_offsets.get(tp, self._end[tp])
                next_offsets[tp] = offset + 1
                headers = {k: base64.b64encode(v).decode() for k, v in m.headers.items()}
                rows.append(
                    {
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "offset": offset,
                        "key": m.key,
                        "value": m.value,
                        "headers": headers,
                        "timestamp_ms": now_ms,
                    }
                )
            if rows:
                async with self._engine.begin() as conn:
                    await conn.execute(sa.insert(_records), rows)
            # Offsets advance only after the commit: a failed append leaves no holes.
            self._end.update(next_offsets)
        await self._notify()

    async def read(self, tp: TopicPartition, offset: int, limit: int) -> list[IncomingMessage]:
        query = (
            sa.select(_records)
            .where(_records.c.topic == tp.topic, _records.c.partition == tp.partition)
            .where(_records.c.offset >= offset)
            .order_by(_records.c.offset)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            IncomingMessage(
                topic=row["topic"],
                partition=row["partition"],
                offset=row["offset"],
                key=row["key"],
                value=row["value"],
                headers={k: base64.b64decode(v) for k, v in row["headers"].items()},
                timestamp_ms=row["timestamp_ms"],
            )
            for row in rows
        ]

    @property
    def changes(self) -> int:
        """A counter bumped by every append and rebalance; see `wait_for_change`."""
        return self._changes

    async def wait_for_change(self, seen: int) -> None:
        """Waits until `changes` differs from `seen`; reading it first loses no wake-up."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._changes != seen)

    async def _notify(self) -> None:
        async with self._changed:
            self._changes += 1
            self._changed.notify_all()

    async def join(self, group_id: str, member: InProcessSubscriber) -> None:
        for topic in member.topics:
            self.partitions(topic)  # fail at start on an unknown topic, not silently later
        group = self._groups.setdefault(group_id, _Group())
        async with group.lock:
            group.members.append(member)
            await self._rebalance(group, departed=None)

    async def leave(self, group_id: str, member: InProcessSubscriber) -> None:
        group = self._groups.get(group_id)
        if group is None or member not in group.members:
            return
        async with group.lock:
            group.members.remove(member)
            await self._rebalance(group, departed=member)

    async def _rebalance(self, group: _Group, departed: InProcessSubscriber | None) -> None:
        # Like Kafka's eager protocol: every member gives up everything before anyone gets
        # anything, so a new owner reads offsets only after the old owner's on_revoked.
        for member in [*group.members, *([departed] if departed else [])]:
            await member.revoke_all()
        wanted = [tp for m in group.members for topic in m.topics for tp in self.partitions(topic)]
        plan = assign_round_robin([m.topics for m in group.members], list(set(wanted)))
        for member, partitions in zip(group.members, plan, strict=True):
            await member.assign(partitions)
        await self._notify()


class _Group:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.members: list[InProcessSubscriber] = []


class InProcessPublisher:
    """Publishes into an `InProcessLog`; the log's owner opens and closes it."""

    def __init__(self, log: InProcessLog) -> None:
        self._log = log

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self._log.append(messages)


class InProcessSubscriber:
    """A group member over an `InProcessLog`. Rebalances run in the task that joins or
    leaves, calling every member's listener, as aiokafka's coordinator task does."""

    def __init__(self, log: InProcessLog, group_id: str, topics: Sequence[str]) -> None:
        self._log = log
        self._group_id = group_id
        self.topics = frozenset(topics)
        self._listener: AssignmentListener | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._version = 0  # bumped whenever positions change under a fetch's feet
        self._cursor = 0  # rotates the first partition read, so none starves
        self._error: BaseException | None = None

    async def start(self, listener: AssignmentListener) -> None:
        self._listener = listener
        await self._log.join(self._group_id, self)
        self._raise_listener_error()

    async def stop(self) -> None:
        await self._log.leave(self._group_id, self)

    async def fetch(
        self, max_records: int, timeout_ms: int
    ) -> Mapping[TopicPartition, Sequence[IncomingMessage]]:
        deadline = asyncio.get_running_loop().time() + timeout_ms / 1000
        while True:
            self._raise_listener_error()
            seen = self._log.changes
            batch = await self._read_ready(max_records)
            remaining = deadline - asyncio.get_running_loop().time()
            if batch or remaining <= 0:
                return batch
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._log.wait_for_change(seen)

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition not in self._positions:
            raise TransportError(f"cannot seek {partition}: not assigned")
        self._positions[partition] = offset
        self._version += 1

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._positions)

    async def end_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        return {tp: self._log.end_offset(tp) for tp in partitions}

    async def revoke_all(self) -> None:
        owned = sorted(self._positions)
        self._positions = {}
        self._version += 1
        if owned and self._listener is not None:
            await self._guarded(self._listener.on_revoked(owned))

    async def assign(self, partitions: list[TopicPartition]) -> None:
        self._version += 1
        offsets: Mapping[TopicPartition, int | None] = {}
        if self._listener is not None:
            offsets = await self._guarded(self._listener.on_assigned(partitions)) or {}
        self._positions = {tp: offsets.get(tp) or 0 for tp in partitions}

    async def _read_ready(self, max_records: int) -> dict[TopicPartition, list[IncomingMessage]]:
        version, positions = self._version, dict(self._positions)
        owned = sorted(positions)
        self._cursor += 1
        batch: dict[TopicPartition, list[IncomingMessage]] = {}
        budget = max_records
        for i in range(len(owned)):
            tp = owned[(self._cursor + i) % len(owned)]
            if budget > 0 and positions[tp] < self._log.end_offset(tp):
                records = await self._log.read(tp, positions[tp], budget)
                if records:
                    batch[tp] = records
                    budget -= len(records)
        if version != self._version:
            return {}  # a rebalance or seek ran meanwhile: these records may not be ours
        for tp, records in batch.items():
            self._positions[tp] = records[-1].offset + 1
        return batch

    async def _guarded(self, callback: Awaitable[_T]) -> _T | None:
        # Another member's rebalance may be running this: keep the error for our own fetch.
        try:
            return await callback
        except Exception as error:
            self._error = self._error or error
            return None

    def _raise_listener_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise TransportError("the assignment listener failed") from error
