"""B4: end-to-end freshness. Registrations posted to `wfe serve registry` (its relay
publishing to Kafka) at a fixed arrival rate, and for each new contributor the moment it
became visible to reporting's report APIs (`wfe serve reporting`) and the moment the first
policy decision about it was on `workforce.policy.decisions.v1` (`wfe serve policy`).

Visibility in reporting is watched in its database: the report APIs read the committed
projected tables, and `contributor_facts` gets a row for a contributor in the same
transaction as every other row of theirs, so the first moment that row can be read is the
first moment any `/v1/reports/...` can show the contributor. The watcher asks PostgreSQL
by primary key for the contributors still awaited, every few milliseconds: that costs the
reporting process nothing, where polling a report over HTTP would take its CPU from the
consumer being measured. Decisions are read from the topic by a consumer of this process
with a short fetch wait. Latencies run from each arrival's *scheduled* time (queueing at
the registry counts); the time after the registry's answer is given too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.adapters.tables import contributor_facts
from tests.bench.drivers import Measurement, open_loop
from tests.bench.http_client import Call, CallFactory, Clients, Endpoint, Response
from tests.bench.processes import TOPIC_PARTITIONS, Server
from tests.bench.sections import cpu_seconds, machine_busy

REST = "REST registration"
BATCHED = "CloudEvents batches"
WATCH_INTERVAL = 0.005
_TYPES = ("contractor", "agency_worker", "gig_worker", "employee", "partner")


@dataclass
class Posting:
    """Every arrival of one measurement: who it registers, when it was due and answered."""

    subjects: list[list[str]] = field(default_factory=list)
    """Per arrival, the contributors it registers (one, or a batch)."""
    answered: dict[int, float] = field(default_factory=dict)
    accepted: set[int] = field(default_factory=set)
    start: float = 0.0


def _registration(run: str, n: int) -> dict[str, Any]:
    return {
        "contributor_id": f"c-{run}-{n}",
        "contributor_type": _TYPES[n % len(_TYPES)],
        "display_name": f"Fresh Contributor {n}",
        "email": f"fresh.{run}.{n}@example.com",
        "owning_function": "procurement",
        "sponsor": f"s-{n % 97}",
        "business_unit": "logistics-emea",
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def calls(endpoint: Endpoint, posting: Posting, batch: int) -> CallFactory:
    """REST registrations (`batch` 1) with the contributor id chosen here, or CloudEvents
    batches of `batch` `registered` events; arrivals are numbered in the order they are
    made, which is the order they arrive in."""
    run, counter, arrival = uuid.uuid4().hex[:8], itertools.count(), itertools.count()

    def answer(i: int, status: int) -> Callable[[Response], int]:
        def stored(response: Response) -> int:
            posting.answered[i] = time.perf_counter()
            if response.status != status:
                return 0
            posting.accepted.add(i)
            return len(posting.subjects[i])

        return stored

    def call() -> Call:
        i = next(arrival)
        bodies = [_registration(run, next(counter)) for _ in range(batch)]
        posting.subjects.append([b["contributor_id"] for b in bodies])
        if batch == 1:
            key = {"Idempotency-Key": f"fresh-{run}-{i}"}
            request = endpoint.request(
                "POST", "/v1/contributors", _dumps(bodies[0]), "application/json", key
            )
            return Call(request, answer(i, 201))
        events = [
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/bench/hris",
                "type": "org.workforce.contributor.registered.v1",
                "subject": b["contributor_id"],
                "datacontenttype": "application/json",
                "data": b,
            }
            for b in bodies
        ]
        request = endpoint.request(
            "POST", "/v1/events", _dumps(events), "application/cloudevents-batch+json"
        )
        return Call(request, answer(i, 200))

    return call


class Watcher:
    """When each awaited contributor became visible: in reporting's tables, and as a
    decision on the policy topic."""

    def __init__(self, reporting: AsyncEngine, kafka: str, policy_topic: str) -> None:
        self._engine = reporting
        self._kafka = kafka
        self._topic = policy_topic
        self._unreported: set[str] = set()
        """Awaited and not yet seen in the tables: what each look asks for. Kept as it goes,
        because this process shares the CPUs it measures: comparing every contributor ever
        awaited with those seen, every 5 ms, took 0.07 CPU by 12,000 awaited (timeit)."""
        self.reported: dict[str, float] = {}
        self.decided: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: Any = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=5,
        )
        await self._consumer.start()
        partitions = [TopicPartition(self._topic, p) for p in range(TOPIC_PARTITIONS)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end positions now, not at the first fetch
            await self._consumer.position(partition)
        self._tasks = [
            asyncio.create_task(self._watch_reports()),
            asyncio.create_task(self._watch_decisions()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._consumer.stop()

    def expect(self, subjects: list[str]) -> None:
        self._unreported.update(s for s in subjects if s not in self.reported)

    async def _watch_reports(self) -> None:
        # One array parameter: one statement whatever the number asked for (an IN list
        # would be a statement, and a PostgreSQL PREPARE, per length).
        ids = contributor_facts.c.contributor_id
        query = sa.select(ids).where(ids == sa.func.any(sa.bindparam("ids", type_=ARRAY(sa.Text))))
        async with self._engine.connect() as conn:
            # Planned for each look: the table grows from empty while it is watched, and the
            # generic plan PostgreSQL settles on for a prepared statement after five runs,
            # made while the table was nearly empty, scanned all of it 200 times a second
            # (PostgreSQL at 0.9 CPU by 10,000 rows).
            await conn.execute(sa.text("SET plan_cache_mode = force_custom_plan"))
            while True:
                if self._unreported:
                    asked = list(self._unreported)
                    found = (await conn.execute(query, {"ids": asked})).scalars().all()
                    await conn.commit()
                    seen = time.perf_counter()
                    for cid in found:
                        self.reported[cid] = seen
                    self._unreported.difference_update(found)
                await asyncio.sleep(WATCH_INTERVAL)

    async def _watch_decisions(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=50)
            seen = time.perf_counter()
            for records in batches.values():
                for record in records:
                    subject = dict(record.headers).get("ce_subject", b"").decode()
                    self.decided.setdefault(subject, seen)

    async def settle(self, subjects: list[str], seconds: float) -> None:
        """Waits until every one of `subjects` is visible in both, or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(s in self.reported and s in self.decided for s in subjects):
                return
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class CpuUse:
    """Cores busy while the arrivals came (until the registry's last answer or giving up on
    it)."""

    services: dict[str, float]
    """Each service process."""
    machine: float
    """Every process of the machine: the services, PostgreSQL, Kafka, this load generator."""
    cores: int


class _CpuWatch:
    def __init__(self, processes: Mapping[str, Server]) -> None:
        self._pids = {name: server.pid for name, server in processes.items()}
        self._before = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._machine = machine_busy()
        self.began = time.perf_counter()

    def used(self, seconds: float) -> CpuUse | None:
        machine = machine_busy()
        if not seconds or machine is None or self._machine is None:
            return None
        cores = os.cpu_count() or 1
        busy, total = machine[0] - self._machine[0], machine[1] - self._machine[1]
        services = {}
        for name, pid in self._pids.items():
            before, after = self._before[name], cpu_seconds(pid)
            if before is not None and after is not None:
                services[name] = (after - before) / seconds
        return CpuUse(services, cores * busy / total if total else 0.0, cores)


@dataclass(frozen=True)
class Freshness:
    subject: str
    """REST registration, or CloudEvents batches."""
    batch: int
    offered: float
    """Contributors per second offered."""
    arrivals: int
    contributors: int
    accepted: int
    answered_rate: float
    unanswered: int
    reporting: Measurement
    """Per accepted contributor: scheduled arrival -> visible to the reports (∞: never)."""
    policy: Measurement
    """Per accepted contributor: scheduled arrival -> first decision on the topic."""
    reporting_after_answer: Measurement
    policy_after_answer: Measurement
    seen_reporting: int
    seen_policy: int
    cpu: CpuUse | None = None

    @property
    def saw_everything(self) -> bool:
        return self.seen_reporting == self.accepted and self.seen_policy == self.accepted


def _latencies(
    posting: Posting, seen: dict[str, float], since: Callable[[int], float]
) -> list[float]:
    found = []
    for i in sorted(posting.accepted):
        for cid in posting.subjects[i]:
            at = seen.get(cid)
            found.append(math.inf if at is None else max(0.0, at - since(i)))
    return found


async def measure(
    registry: Server,
    watcher: Watcher,
    *,
    rate: float,
    seconds: float,
    batch: int,
    connections: int,
    grace: float,
    settle: float,
    watched_processes: Mapping[str, Server] | None = None,
) -> Freshness:
    """`rate` contributors per second for `seconds` (arrivals of `batch` contributors),
    then up to `settle` seconds for the pipeline to show the last of them; the CPU of
    `watched_processes` (by name) while the arrivals came."""
    posting = Posting()
    arrivals = max(1, round(rate * seconds / batch))
    pool = await Clients.open(registry.endpoint, connections)
    factory = calls(registry.endpoint, posting, batch)

    def watched() -> Call:
        made = factory()
        watcher.expect(posting.subjects[-1])
        return made

    try:
        clock = _CpuWatch(watched_processes or {})
        done = await open_loop(pool.appends(watched), rate / batch, arrivals, grace)
        cpu = clock.used(time.perf_counter() - clock.began)
    finally:
        await pool.close()
    accepted = [cid for i in sorted(posting.accepted) for cid in posting.subjects[i]]
    await watcher.settle(accepted, settle)

    def scheduled(i: int) -> float:
        return done.started + i * batch / rate

    def answered(i: int) -> float:
        return posting.answered[i]

    span = done.measurement.seconds
    n = len(accepted)
    reporting = _latencies(posting, watcher.reported, scheduled)
    policy = _latencies(posting, watcher.decided, scheduled)
    return Freshness(
        REST if batch == 1 else BATCHED,
        batch,
        rate,
        arrivals,
        arrivals * batch,
        n,
        n / span if span else 0.0,
        done.unanswered,
        Measurement(n, span, reporting),
        Measurement(n, span, policy),
        Measurement(n, span, _latencies(posting, watcher.reported, answered)),
        Measurement(n, span, _latencies(posting, watcher.decided, answered)),
        sum(1 for cid in accepted if cid in watcher.reported),
        sum(1 for cid in accepted if cid in watcher.decided),
        cpu,
    )


async def warm_up(registry: Server, watcher: Watcher, contributors: int) -> None:
    """A few registrations through the whole pipeline first: connections open, statements
    prepared, consumer groups joined."""
    await measure(
        registry,
        watcher,
        rate=20,
        seconds=contributors / 20,
        batch=1,
        connections=4,
        grace=30,
        settle=60,
    )
