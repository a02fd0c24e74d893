"""Measuring one implementation at a time: warm up, empty the tables, measure, count what
was stored. Async implementations run on this event loop; the `eventsourcing` library,
being synchronous, runs in worker threads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from tests.bench.drivers import (
    AsyncAppend,
    Budget,
    Measurement,
    closed_loop,
    closed_loop_threads,
    open_loop,
    open_loop_threads,
)
from tests.bench.library import EventsourcingLibrary
from tests.bench.ours import OurStore
from tests.bench.raw import RawAsyncpg
from tests.bench.report import Result
from tests.bench.tables import HISTORY, Stored, TableAdmin

SINGLE = "1 event/tx"
OPEN_LOOP_WRITERS = 16


@dataclass(frozen=True)
class Span:
    seconds: float | None = None
    events: int | None = None

    def budget(self) -> Budget:
        return Budget(seconds=self.seconds, events=self.events)

    def arrivals(self, rate: float) -> int:
        return self.events if self.events is not None else round(rate * (self.seconds or 0))


@dataclass(frozen=True)
class Plan:
    """Each figure adds up `rounds` slices, one per round, each slice measured over its span."""

    name: str
    single: Span
    batch: Span
    open_loop: Span
    warmup_appends: int
    """Per writer, before the clock starts: connections opened, statements prepared."""
    rounds: int = 1
    concurrencies: tuple[int, ...] = (1, 4, 16, 32)
    open_loop_load: float = 0.5
    history: int = HISTORY
    """Events in each table before every measurement."""
    """Offered rate, as a fraction of the slowest single-event throughput at 16 writers."""


W = TypeVar("W", covariant=True)
P = TypeVar("P")


class AsyncBench(Protocol[W]):
    @property
    def name(self) -> str: ...
    async def reset(self) -> None: ...
    async def stored(self) -> Stored: ...
    def writers(self, connections: int) -> AbstractAsyncContextManager[W]: ...


class Harness:
    def __init__(self, plan: Plan, url: str, admin: TableAdmin) -> None:
        prefix = f"bench_{uuid.uuid4().hex[:8]}"
        self.plan = plan
        self.ours = OurStore(url, f"{prefix}_ours", admin)
        self.raw = RawAsyncpg(url, f"{prefix}_raw", admin, outbox=True)
        self.bare = RawAsyncpg(url, f"{prefix}_raw", admin, outbox=False)
        self.library = EventsourcingLibrary(url, f"{prefix}_lib", admin)
        self.schemas = [self.ours.schema, self.raw.schema, self.library.schema]
        self.results: list[Result] = []

    async def create(self) -> None:
        await self.ours.create()
        await self.raw.create()
        await self.library.create()

    async def closed(
        self,
        bench: AsyncBench[P],
        writers: int,
        pick: Callable[[P], AsyncAppend],
        per_append: int,
        workload: str,
        span: Span,
    ) -> None:
        async with bench.writers(writers) as pool:
            warmup = Budget(events=self.plan.warmup_appends * writers * per_append)
            await closed_loop([pick(pool) for _ in range(writers)], per_append, warmup)
            await bench.reset()
            m = await closed_loop([pick(pool) for _ in range(writers)], per_append, span.budget())
        self._record(bench.name, workload, writers, m, await bench.stored())

    async def opened(
        self,
        bench: AsyncBench[P],
        pick: Callable[[P], AsyncAppend],
        rate: float,
        workload: str = SINGLE,
    ) -> None:
        writers = OPEN_LOOP_WRITERS
        async with bench.writers(writers) as pool:
            warmup = Budget(events=self.plan.warmup_appends * writers)
            await closed_loop([pick(pool) for _ in range(writers)], 1, warmup)
            await bench.reset()
            appends = [pick(pool) for _ in range(writers)]
            m = (await open_loop(appends, rate, self.plan.open_loop.arrivals(rate))).measurement
        self._record(bench.name, workload, writers, m, await bench.stored(), rate)

    async def library_closed(self, writers: int) -> None:
        reset = self._blocking_reset()

        def measure() -> Measurement:
            with self.library.writers(writers) as pool:
                warmup = Budget(events=self.plan.warmup_appends * writers)
                closed_loop_threads([pool.single() for _ in range(writers)], warmup)
                reset()
                budget = self.plan.single.budget()
                return closed_loop_threads([pool.single() for _ in range(writers)], budget)

        m = await asyncio.to_thread(measure)
        self._record(self.library.name, SINGLE, writers, m, await self.library.stored())

    async def library_opened(self, rate: float) -> None:
        reset, writers = self._blocking_reset(), OPEN_LOOP_WRITERS

        def measure() -> Measurement:
            with self.library.writers(writers) as pool:
                warmup = Budget(events=self.plan.warmup_appends * writers)
                closed_loop_threads([pool.single() for _ in range(writers)], warmup)
                reset()
                appends = [pool.single() for _ in range(writers)]
                return open_loop_threads(appends, rate, self.plan.open_loop.arrivals(rate))

        m = await asyncio.to_thread(measure)
        self._record(self.library.name, SINGLE, writers, m, await self.library.stored(), rate)

    def _blocking_reset(self) -> Callable[[], None]:
        """Truncation from a writer thread, done on this event loop's admin connection."""
        loop = asyncio.get_running_loop()
        return lambda: asyncio.run_coroutine_threadsafe(self.library.reset(), loop).result()

    def _record(
        self,
        implementation: str,
        workload: str,
        writers: int,
        m: Measurement,
        stored: Stored,
        offered: float | None = None,
    ) -> None:
        """Adds a slice to the result it belongs to (the same case in an earlier round)."""
        key = (implementation, workload, writers, offered)
        for i, r in enumerate(self.results):
            if (r.implementation, r.workload, r.writers, r.offered_rate) == key:
                self.results[i] = replace(
                    r, measurement=r.measurement + m, stored=r.stored + stored
                )
                return
        self.results.append(Result(implementation, workload, writers, m, stored, offered))

    def find(self, implementation: str, workload: str, writers: int) -> Result | None:
        """The closed-loop result for that implementation, workload and number of writers."""
        wanted = (implementation, workload, writers)
        closed = (r for r in self.results if r.offered_rate is None)
        return next(
            (r for r in closed if (r.implementation, r.workload, r.writers) == wanted), None
        )
