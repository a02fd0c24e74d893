"""Rebuild reporting's tables from offset 0 of both topics, next to the live ones, and swap
them in at once.

1. A staging schema (`<schema>_rebuild`) gets empty copies of the projected tables and
   a checkpoint store of its own.
2. Consumers read both topics from the beginning into it, storing offsets and stream
   versions as the live consumer does, until they have caught up with the topics' ends:
   one process per CPU, each reading its share of the partitions (`_splits`), or one
   process in a fresh consumer group. Each holds the facts of the contributors it meets in
   memory and derives and writes each contributor's rows once (`adapters/held.py`): when it
   holds too many, and, for those still held, once it has caught up.
3. One transaction, under the swap lock (which waits for live batches in flight and holds
   new ones back), drops the live tables, moves the staged ones into the live schema, puts
   the staging consumer's offsets, stream versions and progress in place of the live
   consumer's, and records a new generation.
4. Live consumers see the new generation in their next batch (or, idle, within half a
   second: `ProjectionConsumer.idle`), roll it back and continue
   from the moved offsets, so whatever they had read past them is applied to the new tables
   too and nothing is lost or applied twice (duplicates are recognised by the facts).

PostgreSQL only. In the embedded mode (SQLite) the same result is had by stopping the
process, deleting `<data_dir>/reporting.db` and starting again: its offsets live in that
file, so the consumer starts from offset 0.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting.adapters import generations
from services.reporting.adapters.tables import PROJECTED, consumer_progress, metadata, rebuilds
from services.reporting.consumer import CONSUMER, projection_consumer
from shared.app import transport_for
from shared.db import create_engine
from shared.eventstore.tables import checkpoints, consumed_streams
from shared.eventstore.tables import metadata as shared_metadata
from shared.migrations import migrate
from shared.processes import SPAWN, Children, collection_paused, cpus
from shared.settings import ServiceSettings
from shared.transport.kafka import partition_counts

SERVICE = "reporting"
STAGING_CONSUMER = f"{SERVICE}-rebuild"
STAGING_SCHEMA = f"{SERVICE}_rebuild"
REBUILD_BATCH = 5000
"""Events per transaction of a rebuild: each stores the offsets and stream versions of its
events, and nobody waits on a rebuild's freshness. Not more: a batch holds the event loop
while it folds (and writes what it pushed out of memory), and a batch longer than the
Kafka session timeout (10 s) gets the consumer thrown out of its group and its partitions
re-read."""
REBUILD_CACHE = 20_000
"""Contributors whose facts the rebuild holds in memory before it derives and writes their
rows (`adapters/held.py`): about 35 KB each with the benchmark's histories (20 events on
average), so about 0.7 GB when full. A topic interleaving more contributors than that still
rebuilds, writing those met again twice or more."""


class RebuildError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    phase: Literal["consuming", "swapping", "done"]
    processed: int
    """Events applied to the staged tables so far."""
    remaining: int | None
    """Messages on the topics not read yet; None until the consumer owns its partitions."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    generation: int
    events: int
    rows: dict[str, int]
    """Rows per projected table, as swapped in."""
    seconds: float
    processes: int
    """How many processes read the topics."""


ProgressCallback = Callable[[RebuildProgress], None]


async def rebuild(
    settings: ServiceSettings,
    progress_callback: ProgressCallback | None = None,
    *,
    poll_interval: float = 0.25,
    batch: int = REBUILD_BATCH,
    cache: int = REBUILD_CACHE,
    processes: int | None = None,
) -> RebuildResult:
    """Rebuilds the projected tables from offset 0 and swaps them in; the service may keep
    running meanwhile. `batch` events per transaction, `cache` contributors held in memory
    before their rows are written (0: written after every batch, and read back from the
    tables when met again, as a live consumer does). `processes` read shares of the
    partitions side by side (default: one per CPU; see `_splits`). Raises `RebuildError` on
    SQLite or while another rebuild runs."""
    url = settings.database_url_for(SERVICE)
    if not url.startswith("postgresql"):
        raise RebuildError(
            "rebuild needs PostgreSQL; in the embedded mode stop the process, delete "
            f"{settings.data_dir / SERVICE}.db and start again"
        )
    started = time.monotonic()
    report = progress_callback or (lambda _: None)
    live = create_engine(url, schema=SERVICE, pool_size=2)
    try:
        await migrate(live, SERVICE, "reporting@head")
        async with live.connect() as guard:
            if not await _session_lock(guard, "pg_try_advisory_lock"):
                raise RebuildError("another rebuild of reporting is running")
            try:
                splits = await _splits(settings, processes or cpus())
                # The limit is the rebuild's, whatever the number of processes holding them.
                held = cache and max(cache // len(splits), 1)
                shares = [
                    _Share(settings, url, partitions, batch, held, poll_interval)
                    for partitions in splits
                ]
                processed, generation = await _rebuild(live, url, report, shares)
                rows = {t.name: await _count(guard, t) for t in PROJECTED}
            finally:
                await _session_lock(guard, "pg_advisory_unlock")
    finally:
        await live.dispose()
    report(RebuildProgress("done", processed, 0))
    seconds = time.monotonic() - started
    return RebuildResult(generation, processed, rows, seconds, len(shares))


async def _session_lock(guard: AsyncConnection, function: str) -> bool:
    """One rebuild at a time: a session lock, so a crashed rebuild lets go of it."""
    key = "hashtextextended('reporting-rebuild:' || current_schema(), 0)"
    done = bool(await guard.scalar(sa.text(f"SELECT {function}({key})")))
    await guard.commit()
    return done


async def _rebuild(
    live: AsyncEngine, url: str, report: ProgressCallback, shares: list[_Share]
) -> tuple[int, int]:
    """Events applied, and the generation swapped in."""
    await _stage(live, url, STAGING_SCHEMA)
    try:
        processed = await _consume(shares, report)
        report(RebuildProgress("swapping", processed, 0))
        return processed, await _swap(live, STAGING_SCHEMA, processed)
    finally:
        async with live.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{STAGING_SCHEMA}" CASCADE'))


async def _stage(live: AsyncEngine, url: str, schema: str) -> None:
    async with live.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    staging = _staging_engine(url, schema)
    try:
        # The same definitions the live tables have (the e2e test compares the two schemas).
        async with staging.begin() as conn:
            await conn.run_sync(metadata.create_all, tables=[*PROJECTED, consumer_progress])
            await conn.run_sync(shared_metadata.create_all, tables=[checkpoints, consumed_streams])
    finally:
        await staging.dispose()


def _staging_engine(url: str, schema: str) -> AsyncEngine:
    staging = create_engine(url, schema=schema, pool_size=2)
    sa.event.listen(staging.sync_engine, "connect", _compress_with_lz4)
    return staging


_LZ4 = """
SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings
WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)
"""


def _compress_with_lz4(connection: Any, _: object) -> None:
    """The rebuild writes every contributor's whole history (kilobytes of JSON), and
    PostgreSQL compresses each: with its default (pglz) that was a third of the cost of
    writing it, with lz4 a small part. The values read the same whichever way they were
    compressed; a server built without lz4 keeps pglz."""
    connection.run_async(lambda driver: driver.execute(_LZ4))


async def _splits(settings: ServiceSettings, processes: int) -> list[list[int] | None]:
    """The partition numbers each process reads of both topics; `[None]`: one process, a
    member of a consumer group of its own.

    A contributor's events and decisions are keyed by the contributor, so on topics with as
    many partitions each they sit in partitions of the same number, and every process sees
    whole contributors: each derives its own contributors' rows, as it would alone. Topics
    partitioned otherwise are read by one process."""
    bootstrap = settings.kafka_bootstrap_servers
    if processes <= 1 or not bootstrap:
        return [None]
    topics = [settings.topics.registry, settings.topics.policy]
    counts = set((await partition_counts(bootstrap, topics)).values())
    if len(counts) != 1:
        return [None]
    (count,) = counts
    processes = min(processes, count)
    if processes <= 1:
        return [None]
    return [list(range(first, count, processes)) for first in range(processes)]


@dataclass(frozen=True, slots=True)
class _Share:
    """What one process of a rebuild reads and how (pickled into the processes it starts)."""

    settings: ServiceSettings
    url: str
    partitions: list[int] | None
    batch: int
    cache: int
    poll_interval: float


Progress = Callable[[int, int | None], None]
"""Told events applied and messages left (None until known) as a share goes."""


async def _consume(shares: list[_Share], report: ProgressCallback) -> int:
    """Reads every share, the first in this process and each other in a process of its
    own (Python runs one CPU per process), until each has caught up; their events
    applied."""
    if len(shares) == 1:
        return await _consume_share(
            shares[0], lambda done, left: report(RebuildProgress("consuming", done, left))
        )
    counters = [(SPAWN.Value("q", 0), SPAWN.Value("q", -1)) for _ in shares[1:]]
    children = Children(
        _consume_in_child,
        [(share, *counter) for share, counter in zip(shares[1:], counters, strict=True)],
        STAGING_CONSUMER,
    )
    here: tuple[int, int | None] = (0, None)

    def tell() -> None:
        codes = [code for code in children.exit_codes() if code not in (None, 0)]
        if codes:
            raise RebuildError(
                f"{len(codes)} of the rebuild's processes failed (exit codes "
                f"{', '.join(map(str, codes))}); their errors are above"
            )
        lefts = [here[1], *(None if left.value < 0 else left.value for _, left in counters)]
        done = here[0] + sum(applied.value for applied, _ in counters)
        remaining = None if None in lefts else sum(n for n in lefts if n is not None)
        report(RebuildProgress("consuming", done, remaining))

    def progress(done: int, left: int | None) -> None:
        nonlocal here
        here = (done, left)
        tell()

    async with children:
        processed = await _consume_share(shares[0], progress)
        await children.wait(shares[0].poll_interval, tell)
        tell()
    return processed + sum(int(applied.value) for applied, _ in counters)


def _consume_in_child(share: _Share, applied: Any, left: Any) -> None:
    """A share in a child process; `applied` and `left` are shared with the parent."""

    def progress(done: int, remaining: int | None) -> None:
        applied.value = done
        left.value = -1 if remaining is None else remaining

    progress(asyncio.run(_consume_share(share, progress)), 0)


async def _consume_share(share: _Share, progress: Progress) -> int:
    """Reads the share's partitions into the staged tables until caught up; events applied."""
    staging = _staging_engine(share.url, STAGING_SCHEMA)
    transport = transport_for(share.settings)
    await transport.open()
    try:
        deadletters = transport.publisher(client_id=f"{STAGING_CONSUMER}-deadletters")
        consumer = projection_consumer(
            transport,
            staging,
            share.settings,
            deadletters,
            name=STAGING_CONSUMER,
            group_id=f"{STAGING_CONSUMER}-{uuid.uuid4().hex[:12]}",
            live=False,
            max_batch=share.batch,
            held=share.cache,
            partitions=share.partitions,
        )
        stop = asyncio.Event()
        # The rebuild holds thousands of contributors' facts: without the pause, a full
        # collection ran every batch or so, over a quarter of the rebuild's CPU.
        with collection_paused():
            running = asyncio.create_task(consumer.run(stop))
            try:
                while True:
                    if running.done():
                        running.result()
                        raise RebuildError("the rebuild's consumer stopped")
                    lag = await consumer.lag()
                    remaining = sum(lag.values()) if lag else None
                    progress(consumer.stats.processed, remaining)
                    if remaining == 0:
                        break
                    await asyncio.sleep(share.poll_interval)
            finally:
                stop.set()
                await asyncio.gather(running, return_exceptions=True)
            # Whatever the consumer read after the check above is held too: its offsets are
            # among those the swap moves, so its rows must be in the tables it swaps in.
            await consumer.write_held()
        return consumer.stats.processed
    finally:
        await transport.close()
        await staging.dispose()


async def _swap(live: AsyncEngine, staging_schema: str, events: int) -> int:
    async with live.begin() as conn:
        generation = await generations.enter_swap(conn) + 1
        live_schema = await conn.scalar(sa.text("SELECT current_schema()"))
        for table in PROJECTED:
            await conn.execute(sa.text(f'DROP TABLE "{live_schema}"."{table.name}"'))
            await conn.execute(
                sa.text(f'ALTER TABLE "{staging_schema}"."{table.name}" SET SCHEMA "{live_schema}"')
            )
        for table in (checkpoints, consumed_streams, consumer_progress):
            await conn.execute(table.delete().where(table.c.consumer == CONSUMER))
            staged = table.to_metadata(sa.MetaData(), schema=staging_schema)
            others = [c.name for c in table.c if c.name != "consumer"]
            await conn.execute(
                table.insert().from_select(
                    ["consumer", *others],
                    sa.select(sa.literal(CONSUMER), *(staged.c[n] for n in others)).where(
                        staged.c.consumer == STAGING_CONSUMER
                    ),
                )
            )
        await conn.execute(
            rebuilds.insert().values(
                generation=generation, swapped_at=datetime.now(UTC), events=events
            )
        )
    return generation


async def _count(conn: AsyncConnection, table: sa.Table) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
