"""Measuring a served service under load, closed loop and open loop, the same way for every
service and for its peers: warm up (connections opened, statements prepared), then time;
count what the service answered, what it stored, and the CPU the service and the load
generator used. Results of the same case in several rounds add up to one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from tests.bench.drivers import Budget, Measurement, closed_loop, open_loop
from tests.bench.harness import Span
from tests.bench.http_client import CallFactory, Clients, Tally
from tests.bench.processes import Server
from tests.bench.sections import cpu_seconds

Count = Callable[[], Awaitable[int]]
"""How many events the service has stored so far."""


@dataclass(frozen=True)
class Result:
    subject: str
    workload: str
    clients: int
    measurement: Measurement
    requests: int
    failed: int = 0
    """Requests answered with a status of 300 or above."""
    stored: int | None = None
    """Events found stored afterwards; None where nothing is stored."""
    service_cpu: float | None = None
    """CPU seconds of the process doing the work (the server, or the writers)."""
    driver_cpu: float | None = None
    """CPU seconds of the load generator, when it is a process of its own."""
    offered: float | None = None
    unanswered: int = 0

    @property
    def rate(self) -> float:
        return self.measurement.rate

    @property
    def all_stored(self) -> bool:
        """Every acknowledged event is stored (some given up on may be stored too)."""
        return self.stored is None or self.stored >= self.measurement.events

    def __add__(self, other: Result) -> Result:
        def total(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        stored = None if self.stored is None or other.stored is None else self.stored + other.stored
        return replace(
            self,
            measurement=self.measurement + other.measurement,
            requests=self.requests + other.requests,
            failed=self.failed + other.failed,
            stored=stored,
            service_cpu=total(self.service_cpu, other.service_cpu),
            driver_cpu=total(self.driver_cpu, other.driver_cpu),
            unanswered=self.unanswered + other.unanswered,
        )


class Results:
    def __init__(self) -> None:
        self.all: list[Result] = []

    def add(self, result: Result) -> Result:
        key = (result.subject, result.workload, result.clients, result.offered)
        for i, r in enumerate(self.all):
            if (r.subject, r.workload, r.clients, r.offered) == key:
                self.all[i] = r + result
                return self.all[i]
        self.all.append(result)
        return result

    def find(self, subject: str, workload: str, offered: float | None = None) -> Result | None:
        return next(
            (
                r
                for r in self.all
                if (r.subject, r.workload, r.offered) == (subject, workload, offered)
            ),
            None,
        )


async def _count(count: Count | None) -> int | None:
    return None if count is None else await count()


class _CpuClock:
    """CPU seconds used since it was made, by the server process and by this one."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._service = cpu_seconds(pid)
        self._driver = time.process_time()

    def used(self) -> tuple[float | None, float]:
        after = cpu_seconds(self._pid)
        service = None if after is None or self._service is None else after - self._service
        return service, time.process_time() - self._driver


async def http_closed(
    subject: str,
    workload: str,
    server: Server,
    calls: CallFactory,
    *,
    clients: int,
    per_request: int,
    span: Span,
    warmup: int,
    stored: Count | None,
) -> Result:
    """Every client sends its next request as soon as the last is answered; `warmup`
    requests per client first."""
    pool = await Clients.open(server.endpoint, clients)
    try:
        budget = Budget(events=warmup * clients * per_request)
        await closed_loop(pool.appends(calls), per_request, budget)
        pool.tally = Tally()
        before = await _count(stored)
        clock = _CpuClock(server.pid)
        m = await closed_loop(pool.appends(calls), per_request, span.budget())
        service, driver = clock.used()
        after = await _count(stored)
    finally:
        await pool.close()
    found = None if after is None or before is None else after - before
    t = pool.tally
    return Result(subject, workload, clients, m, t.requests, t.failures, found, service, driver)


async def http_open(
    subject: str,
    workload: str,
    server: Server,
    calls: CallFactory,
    *,
    connections: int,
    rate: float,
    arrivals: int,
    grace: float,
    stored: Count | None,
) -> Result:
    """Requests arrive at `rate` whatever the answers; `connections` bound those in flight.
    One request per connection first, to open them all."""
    pool = await Clients.open(server.endpoint, connections)
    try:
        await closed_loop(pool.appends(calls), 1, Budget(events=connections))
        pool.tally = Tally()
        before = await _count(stored)
        clock = _CpuClock(server.pid)
        done = await open_loop(pool.appends(calls), rate, arrivals, grace)
        service, driver = clock.used()
    finally:
        await pool.close()
    after = await _count(stored)
    found = None if after is None or before is None else after - before
    t = pool.tally
    return Result(
        subject,
        workload,
        connections,
        done.measurement,
        t.requests,
        t.failures,
        found,
        service,
        driver,
        rate,
        done.unanswered,
    )


def in_process(
    subject: str,
    workload: str,
    writers: int,
    m: Measurement,
    stored: int | None,
    cpu: float,
    offered: float | None = None,
    unanswered: int = 0,
) -> Result:
    """Writers in this process (no HTTP): a request is an append, the CPU is this process's."""
    appends = len(m.latencies) - unanswered
    return Result(subject, workload, writers, m, appends, 0, stored, cpu, None, offered, unanswered)
