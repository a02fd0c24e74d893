"""The measurements of the registry benchmark, in the order they run: closed-loop rounds in
which the services take turns (the machine's load drifts; taking turns spreads the drift
over all of them), then the open loops at each offered rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.bench import registry_calls as calls
from tests.bench.drivers import AsyncAppend, Budget, closed_loop, open_loop
from tests.bench.harness import Span
from tests.bench.http_client import CallFactory
from tests.bench.ours import OurStore
from tests.bench.processes import Server
from tests.bench.profiling import recording
from tests.bench.raw import RawAsyncpg
from tests.bench.sections import plural
from tests.bench.service_load import Results, http_closed, http_open, in_process
from tests.bench.tables import TableAdmin

REST = "registry REST"
CE = "registry CloudEvents"
BARE = "bare FastAPI"
STORE = "store alone"
RAW = "raw COPY"
SINGLE = "1 event/request"
SCHEMA = "registry"


HISTORY_BATCH = 1000


def batch(size: int) -> str:
    return f"batch of {size:,}/request"


@dataclass(frozen=True)
class Plan:
    name: str
    single: Span
    batch: Span
    open_loop: Span
    rounds: int
    open_rates: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    clients: int = 32
    batch_clients: int = 1
    open_connections: int = 64
    """Bounds the requests in flight in an open loop: twice the closed loop's clients."""
    warmup: int = 3
    """Requests per client before the clock starts."""
    grace: float = 2.0
    """Seconds an open loop waits for answers after the last arrival was due."""
    history: int = 20_000
    """Contributors registered (CloudEvents batches of 1,000) before anything is measured."""


class RegistryBench:
    def __init__(
        self,
        plan: Plan,
        registry: Server,
        bare: Server,
        store: OurStore,
        raw: RawAsyncpg,
        admin: TableAdmin,
    ) -> None:
        self.plan = plan
        self.registry = registry
        self.bare = bare
        self.store = store
        self.raw = raw
        """The batches' floor: COPY of the same rows and their outbox rows (issue 9's B2)."""
        self.admin = admin
        self.results = Results()

    async def stored(self) -> int:
        return await self.admin.count(SCHEMA, "events")

    async def quiet(self, seconds: float = 60) -> None:
        """Waits until the registry's relay has published its backlog, so no measurement
        shares the machine with the relay catching up on an earlier one."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not await self.admin.count(SCHEMA, "outbox"):
                return
            await asyncio.sleep(0.05)

    async def run(self) -> Results:
        await self.give_history()
        for _ in range(self.plan.rounds):
            await self.closed_round()
        for rate in self.plan.open_rates:
            await self.opened(REST, rate)
            await self.opened(CE, rate)
        top = max(self.plan.open_rates)
        await self.opened(BARE, top)
        await self.store_opened(top)
        return self.results

    async def give_history(self) -> None:
        """Registers `plan.history` contributors (CloudEvents batches of 1,000), a tenth as
        many again through REST with idempotency keys, and analyses the registry's tables,
        as a registry in service has them. Plans made on nearly empty tables are
        sequential scans, and PostgreSQL keeps them until the table is next analysed
        (docs/foundation.md, "Service processes")."""
        size = min(HISTORY_BATCH, self.plan.history)
        await http_closed(
            CE,
            batch(size),
            self.registry,
            calls.batches(self.registry.endpoint, size),
            clients=1,
            per_request=size,
            span=Span(events=self.plan.history),
            warmup=0,
            stored=None,
        )
        await http_closed(
            REST,
            SINGLE,
            self.registry,
            calls.registrations(self.registry.endpoint),
            clients=self.plan.clients,
            per_request=1,
            span=Span(events=max(self.plan.history // 10, self.plan.clients)),
            warmup=0,
            stored=None,
        )
        await self.quiet()
        await self.admin.analyze(SCHEMA)

    async def closed_round(self) -> None:
        plan = self.plan
        for subject in (REST, CE, BARE):
            await self.quiet()
            server = self.bare if subject == BARE else self.registry
            stored = None if subject == BARE else self.stored
            result = await http_closed(
                subject,
                SINGLE,
                server,
                self._calls(subject),
                clients=plan.clients,
                per_request=1,
                span=plan.single,
                warmup=plan.warmup,
                stored=stored,
            )
            self.results.add(result)
        await self.store_closed(plan.clients, 1, plan.single)
        for size in plan.batch_sizes:
            await self.quiet()
            result = await http_closed(
                CE,
                batch(size),
                self.registry,
                calls.batches(self.registry.endpoint, size),
                clients=plan.batch_clients,
                per_request=size,
                span=plan.batch,
                warmup=0,  # the single-event requests of the round warmed the server up
                stored=self.stored,
            )
            self.results.add(result)
            await self.store_closed(plan.batch_clients, size, plan.batch)
            await self.raw_closed(plan.batch_clients, size, plan.batch)

    def _calls(self, subject: str) -> CallFactory:
        if subject == BARE:
            return calls.registrations(self.bare.endpoint, "/v1/echo")
        if subject == REST:
            return calls.registrations(self.registry.endpoint)
        return calls.structured_events(self.registry.endpoint)

    async def opened(self, subject: str, rate: int) -> None:
        await self.quiet()
        result = await http_open(
            subject,
            SINGLE,
            self.bare if subject == BARE else self.registry,
            self._calls(subject),
            connections=self.plan.open_connections,
            rate=float(rate),
            arrivals=self.plan.open_loop.arrivals(rate),
            grace=self.plan.grace,
            stored=None if subject == BARE else self.stored,
        )
        self.results.add(result)

    async def store_closed(self, writers: int, size: int, span: Span) -> None:
        async with self.store.writers(writers) as pool:
            # New streams after the tables are emptied: writers track their versions.
            await self._in_process(
                STORE,
                self.store,
                lambda: pool.single() if size == 1 else pool.batch(size),
                writers,
                size,
                span,
            )

    async def raw_closed(self, writers: int, size: int, span: Span) -> None:
        async with self.raw.writers(writers) as pool:
            await self._in_process(RAW, self.raw, lambda: pool.copy(size), writers, size, span)

    async def _in_process(
        self,
        subject: str,
        bench: OurStore | RawAsyncpg,
        append: Callable[[], AsyncAppend],
        writers: int,
        size: int,
        span: Span,
    ) -> None:
        await self.quiet()
        workload = SINGLE if size == 1 else batch(size)
        warmup = Budget(events=self.plan.warmup * writers * size)
        await closed_loop([append() for _ in range(writers)], size, warmup)
        await bench.reset()
        began = time.process_time()
        m = await closed_loop([append() for _ in range(writers)], size, span.budget())
        cpu = time.process_time() - began
        stored = (await bench.stored()).events
        self.results.add(in_process(subject, workload, writers, m, stored, cpu))

    async def store_opened(self, rate: int) -> None:
        await self.quiet()
        writers = self.plan.open_connections
        async with self.store.writers(writers) as pool:
            await closed_loop([pool.single() for _ in range(writers)], 1, Budget(events=writers))
            await self.store.reset()
            appends = [pool.single() for _ in range(writers)]
            began = time.process_time()
            arrivals = self.plan.open_loop.arrivals(rate)
            done = await open_loop(appends, float(rate), arrivals, self.plan.grace)
            cpu = time.process_time() - began
        stored = (await self.store.stored()).events
        m, unanswered = done.measurement, done.unanswered
        result = in_process(STORE, SINGLE, writers, m, stored, cpu, float(rate), unanswered)
        self.results.add(result)

    async def profile(self, directory: Path, seconds: float) -> list[tuple[str, Path]]:
        """py-spy on the registry while it takes single registrations, then batches."""
        profiles: list[tuple[str, Path]] = []
        cases = [
            (REST, SINGLE, self._calls(REST), self.plan.clients, 1),
            (CE, SINGLE, self._calls(CE), self.plan.clients, 1),
        ]
        size = max(self.plan.batch_sizes)
        batches = calls.batches(self.registry.endpoint, size)
        cases.append((CE, batch(size), batches, self.plan.batch_clients, size))
        for subject, workload, factory, clients, per_request in cases:
            await self.quiet()
            output = directory / f"registry-{len(profiles) + 1}.txt"
            async with recording(self.registry.pid, seconds, output):
                await http_closed(
                    subject,
                    workload,
                    self.registry,
                    factory,
                    clients=clients,
                    per_request=per_request,
                    span=Span(seconds=seconds),
                    warmup=0,
                    stored=None,
                )
            profiles.append((f"{subject}, {workload}, {plural(clients, 'client')}", output))
        return profiles
