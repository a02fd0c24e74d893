"""B7: resident memory of each service process after a large event history went through it.

The registry's HTTP write path is far too slow here to post a million events, so the
generated registry events are appended to the registry's own event store (the
`registry` schema its `wfe serve registry` process uses, outbox included, one append per
contributor, a few hundred contributors per transaction): its relay publishes them to
the registry topic, policy consumes them and publishes its decisions, reporting consumes
both — the real pipeline after the registry's HTTP layer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.db import create_engine
from shared.eventstore.model import NewEvent
from shared.eventstore.store import PostgresEventStore
from shared.eventstore.tables import checkpoints
from shared.outbox.relay import outbox_backlog
from tests.bench.processes import TOPIC_PARTITIONS, Server, Stack
from tests.bench.reporting_events import CHUNK_CONTRIBUTORS, plan_events

CONTRIBUTORS_PER_TRANSACTION = 200


@dataclass(frozen=True)
class Rss:
    service: str
    rss_mb: float
    peak_mb: float
    """VmHWM: the most the process held at any moment."""
    went_through: str
    caught_up: bool


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (Linux)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


@dataclass
class Fed:
    events: int = 0
    contributors: int = 0
    seconds: float = 0.0


async def feed_registry(
    where: Stack, events: int, chunk: int = CHUNK_CONTRIBUTORS, seed: int = 7
) -> Fed:
    """At least `events` generated registry events appended to the registry's store."""
    engine = create_engine(where.database_url, schema="registry", pool_size=2)
    store = PostgresEventStore()
    fed, began, n = Fed(), time.perf_counter(), 0
    try:
        while fed.events < events:
            streams: dict[str, list[NewEvent]] = defaultdict(list)
            for e in plan_events(seed * 1000 + n, chunk):
                streams[e.subject].append(
                    NewEvent(uuid.UUID(e.id), e.type, e.data, e.effective, {"source": e.source})
                )
            n += 1
            ids = list(streams)
            for start in range(0, len(ids), CONTRIBUTORS_PER_TRANSACTION):
                async with engine.begin() as conn:
                    for cid in ids[start : start + CONTRIBUTORS_PER_TRANSACTION]:
                        await store.append(conn, cid, streams[cid], None)
            fed.events += sum(len(s) for s in streams.values())
            fed.contributors += len(ids)
    finally:
        await engine.dispose()
    fed.seconds = time.perf_counter() - began
    return fed


class Progress:
    """How far each service is: the registry's outbox, each consumer's stored offsets
    against the ends of its topics."""

    def __init__(self, where: Stack) -> None:
        self._where = where
        self._engines = {
            schema: create_engine(where.database_url, schema=schema, pool_size=1)
            for schema in ("registry", "policy", "reporting")
        }
        self._kafka = AIOKafkaConsumer(bootstrap_servers=where.kafka, enable_auto_commit=False)

    async def __aenter__(self) -> Progress:
        await self._kafka.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._kafka.stop()
        for engine in self._engines.values():
            await engine.dispose()

    async def backlog(self) -> int:
        async with self._engines["registry"].connect() as conn:
            return await outbox_backlog(conn)

    async def consumed(self, consumer: str, roles: tuple[str, ...]) -> tuple[int, int]:
        """(events the consumer has processed, events on its topics)."""
        partitions = [
            TopicPartition(self._where.topics[r], p) for r in roles for p in range(TOPIC_PARTITIONS)
        ]
        ends = await self._kafka.end_offsets(partitions)
        async with self._engines[consumer].connect() as conn:
            stored = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(checkpoints.c.next_offset), 0)).where(
                    checkpoints.c.consumer == consumer,
                    checkpoints.c.topic.in_([self._where.topics[r] for r in roles]),
                )
            )
        return int(stored or 0), sum(ends.values())


async def settle(where: Stack, seconds: float) -> dict[str, tuple[int, int]]:
    """Waits until the relay, policy and then reporting have caught up (or `seconds` pass);
    returns (processed, on the topics) per consumer, and the outbox left for the relay."""
    deadline = time.monotonic() + seconds
    async with Progress(where) as progress:
        while True:
            backlog = await progress.backlog()
            policy = await progress.consumed("policy", ("registry",))
            reporting = await progress.consumed("reporting", ("registry", "policy"))
            done = not backlog and policy[0] == policy[1] and reporting[0] == reporting[1]
            if done or time.monotonic() > deadline:
                return {"relay": (-backlog, 0), "policy": policy, "reporting": reporting}
            await asyncio.sleep(1.0)


def resident(servers: dict[str, Server], state: dict[str, tuple[int, int]], fed: Fed) -> list[Rss]:
    backlog = -state["relay"][0]
    went = {
        "registry": f"{fed.events:,} events stored and {'all' if not backlog else 'not all'}"
        f" published ({backlog:,} left in the outbox)",
        "policy": f"{state['policy'][0]:,} of {state['policy'][1]:,} registry events consumed",
        "reporting": f"{state['reporting'][0]:,} of {state['reporting'][1]:,} events consumed"
        " (registry and policy topics)",
    }
    caught = {
        "registry": not backlog,
        "policy": state["policy"][0] == state["policy"][1],
        "reporting": state["reporting"][0] == state["reporting"][1],
    }
    found = []
    for name, server in servers.items():
        status = _status(server.pid)
        found.append(Rss(name, status["VmRSS"], status["VmHWM"], went[name], caught[name]))
    return found
