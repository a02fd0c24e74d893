"""B5: `services.reporting.rebuild.rebuild` from offset 0 over generated topics, beside the
raw consume rate of the same topics (the ceiling a consumer has before doing any work)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from services.reporting.adapters.tables import contributor_facts
from services.reporting.rebuild import REBUILD_BATCH, REBUILD_CACHE, RebuildProgress, rebuild
from shared.db import create_engine
from shared.settings import ServiceSettings, Topics
from tests.bench.processes import TOPIC_PARTITIONS, Stack
from tests.bench.reporting_events import RawConsume, Written, raw_consume, write_events
from tests.bench.sections import cpu_with_children


@dataclass
class Rebuilt:
    written: Written
    raw: RawConsume
    events: int
    seconds: float
    contributors: int
    """Rows of `contributor_facts` after the swap: one per contributor generated."""
    rows: dict[str, int]
    batch: int
    cache: int
    processes: int
    """How many processes read the topics."""
    cpu: float
    """CPU seconds of this process and the processes it started, during the rebuild."""
    consuming: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the start, events applied) as the rebuild reported its progress."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def saw_everything(self) -> bool:
        return (
            self.events == self.written.events
            and self.raw.messages == self.written.events
            and self.contributors == self.written.contributors
        )

    @property
    def first_event(self) -> float:
        """Seconds from the call to the first event applied: group join, staging tables."""
        return next((t for t, n in self.consuming if n), self.seconds)


def settings_for(where: Stack) -> ServiceSettings:
    return ServiceSettings(
        database_url=where.database_url,
        kafka_bootstrap_servers=where.kafka,
        data_dir=where.data_dir,
        topics=Topics(
            registry=where.topics["registry"],
            policy=where.topics["policy"],
            deadletter=where.topics["deadletter"],
        ),
    )


async def fill(where: Stack, events: int, chunk: int) -> Written:
    topics = (where.topics["registry"], where.topics["policy"])
    return await write_events(where.kafka, topics, events, TOPIC_PARTITIONS, chunk=chunk)


async def measure_rebuild(
    where: Stack,
    written: Written,
    batch: int = REBUILD_BATCH,
    cache: int = REBUILD_CACHE,
    processes: int | None = None,
) -> Rebuilt:
    """`processes`: None for the rebuild's default (one per CPU)."""
    raw = await raw_consume(
        where.kafka, [where.topics["registry"], where.topics["policy"]], TOPIC_PARTITIONS
    )
    consuming: list[tuple[float, int]] = []
    began, cpu = time.perf_counter(), cpu_with_children()

    def progress(p: RebuildProgress) -> None:
        if p.phase == "consuming":
            consuming.append((time.perf_counter() - began, p.processed))

    result = await rebuild(
        settings_for(where),
        progress,
        poll_interval=0.1,
        batch=batch,
        cache=cache,
        processes=processes,
    )
    cpu = cpu_with_children() - cpu
    engine = create_engine(where.database_url, schema="reporting", pool_size=1)
    try:
        async with engine.connect() as conn:
            contributors = await conn.scalar(
                sa.select(sa.func.count()).select_from(contributor_facts)
            )
    finally:
        await engine.dispose()
    return Rebuilt(
        written,
        raw,
        result.events,
        result.seconds,
        int(contributors or 0),
        result.rows,
        batch,
        cache,
        result.processes,
        cpu,
        consuming,
    )
