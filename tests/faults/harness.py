"""Shared pieces of the fault tests: fresh topics, worker processes, reading a topic back."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.envelope import CloudEvent, from_binary
from shared.eventstore.model import NewEvent
from shared.eventstore.store import event_store_for
from shared.outbox.relay import outbox_backlog
from tests.databases import FreshDatabase
from tests.faults.workers import PROJECTION_DDL, Happened
from tests.servers import created_topics

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def fresh_topic(bootstrap: str, partitions: int = 6) -> AsyncIterator[str]:
    """A topic of its own, deleted afterwards: a broker kept between runs (a developer's
    stack) would otherwise collect them, and recover each one at every restart."""
    name = f"faults.{uuid.uuid4().hex[:10]}"
    async with created_topics(bootstrap, [name], partitions):
        yield name


async def read_topic(bootstrap: str, topic: str) -> list[tuple[int, CloudEvent]]:
    """Everything on the topic now, as (partition, event) in partition order."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        ends = await consumer.end_offsets(partitions)
        out: list[tuple[int, CloudEvent]] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                records = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                for record in records.get(tp, []):
                    out.append((tp.partition, from_binary(dict(record.headers), record.value)))
        return out
    finally:
        await consumer.stop()


def worker_args(database: FreshDatabase, bootstrap: str, topic: str) -> list[str]:
    """The options every worker takes: where its database and its topic are."""
    return [
        "--database-url",
        database.url,
        "--schema",
        database.schema,
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
    ]


@dataclass
class Worker:
    """A `tests.faults.workers` process that can be killed and started again."""

    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    lives: int = 0
    log: Path = field(default_factory=lambda: Path(f"/tmp/wfe-worker-{uuid.uuid4().hex[:8]}.log"))

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "WFE_WORKER_LIFE": str(self.lives)}
        self.lives += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.workers", *self.args],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.2
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(every)


async def append_load(engine: AsyncEngine, total: int, writers: int = 8, pace: float = 0.0) -> None:
    """`total` events over 40 streams per writer, in batches of 1 to 5; streams are split
    between writers so that the load itself never conflicts."""
    rng = random.Random(3)
    store = event_store_for(engine.dialect.name)

    async def writer(w: int) -> None:
        left = total // writers + (1 if w < total % writers else 0)
        while left:
            size = min(left, rng.randint(1, 5))
            batch = [
                NewEvent(
                    uuid.uuid4(), Happened.TYPE, {"n": rng.randint(1, 1000)}, datetime.now(UTC)
                )
                for _ in range(size)
            ]
            async with engine.begin() as conn:
                await store.append(conn, f"stream-{w}-{rng.randrange(40)}", batch, None)
            left -= size
            if pace:
                await asyncio.sleep(pace)

    await asyncio.gather(*(writer(w) for w in range(writers)))


async def outbox_size(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await outbox_backlog(conn)


async def fold_log(engine: AsyncEngine) -> dict[str, tuple[int, int, int]]:
    """The projection computed afresh from the store: stream -> (events, last version, total)."""
    store = event_store_for(engine.dialect.name)
    folded: dict[str, tuple[int, int, int]] = {}
    after: int | None = None
    async with engine.connect() as conn:
        while page := await store.read_all(conn, after, limit=5000):
            for e in page:
                count, _, total = folded.get(e.stream_id, (0, 0, 0))
                folded[e.stream_id] = (count + 1, e.version, total + int(e.data["n"]))
            after = page[-1].position
    return folded


async def projection(engine: AsyncEngine) -> dict[str, tuple[int, int, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT stream_id, events, last_version, total FROM projection")
        )
        return {s: (c, v, t) for s, c, v, t in rows}


async def effects_per_event(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT event_id, count(*) FROM effects GROUP BY event_id")
        )
        return {e: int(c) for e, c in rows}


async def create_projection_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for ddl in PROJECTION_DDL:
            await conn.execute(sa.text(ddl))


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records on the topic past the group's committed offsets (all of them if none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        (described,) = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        ends = await consumer.end_offsets(partitions)
        return sum(
            end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
        )
    finally:
        await consumer.stop()
        await admin.close()


async def read_raw_records(bootstrap: str, topic: str) -> list[bytes]:
    """Every record on the topic as the bytes a broker keeps: key, headers and value."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        out: list[bytes] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                for r in batch.get(tp, []):
                    headers = b"".join(k.encode() + b"\0" + v for k, v in r.headers)
                    out.append(b"\0".join([r.key or b"", headers, r.value or b""]))
        return out
    finally:
        await consumer.stop()
