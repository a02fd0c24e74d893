"""Load drivers: closed loop (each writer appends as fast as it can) and open loop (appends
arrive at a fixed rate whatever the latency), for asyncio writers and for thread writers.

Open-loop latency is measured from each append's *scheduled* arrival, so time spent waiting
for a free connection counts: a closed loop hides that queueing (coordinated omission).
"""

from __future__ import annotations

import asyncio
import gc
import math
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

AsyncAppend = Callable[[], Awaitable[int]]
"""Appends once (one transaction) and returns how many events it appended."""
SyncAppend = Callable[[], int]


class Budget:
    """How much one measurement may do: a duration, or a number of events."""

    def __init__(self, *, seconds: float | None = None, events: int | None = None) -> None:
        if (seconds is None) == (events is None):
            raise ValueError("give exactly one of a duration and an event count")
        self._seconds = seconds
        self._left = events
        self._deadline = 0.0
        self._lock = threading.Lock()

    def start(self) -> float:
        now = time.perf_counter()
        self._deadline = now + (self._seconds or 0.0)
        return now

    def take(self, events: int) -> bool:
        """Whether a writer may start another append of `events` events."""
        if self._left is None:
            return time.perf_counter() < self._deadline
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= events
            return True


@dataclass
class Measurement:
    events: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    """Seconds per append: service time in a closed loop, arrival to commit in an open one."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def __add__(self, other: Measurement) -> Measurement:
        """Two slices of one measurement, taken at different times, as one."""
        seconds = self.seconds + other.seconds
        return Measurement(self.events + other.events, seconds, self.latencies + other.latencies)

    def percentile_ms(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def quiet_generator() -> Iterator[None]:
    """Keeps the load generator's own garbage collection out of the figures. What the harness
    built before measuring (seeded ids, clients, earlier results) is frozen, so a full
    collection during the measurement walks only what the measurement allocates. Without
    this, the generator's full collections (60-70 ms) held back arrivals, and that delay was
    counted as the service's latency."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def closed_loop(appends: Sequence[AsyncAppend], batch: int, budget: Budget) -> Measurement:
    latencies: list[float] = []

    async def drive(append: AsyncAppend) -> int:
        done = 0
        while budget.take(batch):
            began = time.perf_counter()
            done += await append()
            latencies.append(time.perf_counter() - began)
        return done

    with quiet_generator():
        start = budget.start()
        counts = await asyncio.gather(*(drive(a) for a in appends))
        return Measurement(sum(counts), time.perf_counter() - start, latencies)


def closed_loop_threads(appends: Sequence[SyncAppend], budget: Budget) -> Measurement:
    counts = [0] * len(appends)
    latencies: list[list[float]] = [[] for _ in appends]

    def drive(i: int) -> None:
        while budget.take(1):
            began = time.perf_counter()
            counts[i] += appends[i]()
            latencies[i].append(time.perf_counter() - began)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(appends))]
    with quiet_generator():
        start = budget.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return Measurement(
        sum(counts), time.perf_counter() - start, [x for ls in latencies for x in ls]
    )


@dataclass(frozen=True)
class OpenLoopResult:
    measurement: Measurement
    """Events answered, over the time until the last answer (or until giving up)."""
    unanswered: int
    started: float
    """When the first arrival was due (`time.perf_counter`); arrival i was due `i / rate`
    seconds later."""


async def open_loop(
    appends: Sequence[AsyncAppend], rate: float, arrivals: int, grace: float | None = None
) -> OpenLoopResult:
    """`arrivals` appends at `rate` per second, each served by whichever writer (connection)
    is free. A service slower than the offered rate builds a queue that could take minutes
    to drain: with a `grace`, arrivals still unanswered that many seconds after the last one
    was due are given up on and count as infinitely late, so the percentiles say
    "overloaded" instead of hiding it."""
    idle: asyncio.Queue[AsyncAppend] = asyncio.Queue()
    for append in appends:
        idle.put_nowait(append)
    latencies: list[float] = []

    async def serve(scheduled: float) -> int:
        append = await idle.get()
        try:
            done = await append()
        finally:
            idle.put_nowait(append)
        latencies.append(time.perf_counter() - scheduled)
        return done

    with quiet_generator():
        start = time.perf_counter()
        tasks: list[asyncio.Task[int]] = []
        for i in range(arrivals):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(serve(scheduled)))
        timeout = None
        if grace is not None:
            timeout = max(0.0, start + arrivals / rate + grace - time.perf_counter())
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        elapsed = time.perf_counter() - start
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    events = sum(task.result() for task in done)
    latencies += [math.inf] * len(pending)
    return OpenLoopResult(Measurement(events, elapsed, latencies), len(pending), start)


def open_loop_threads(appends: Sequence[SyncAppend], rate: float, arrivals: int) -> Measurement:
    idle: queue.SimpleQueue[SyncAppend] = queue.SimpleQueue()
    for append in appends:
        idle.put(append)
    latencies: list[float] = []

    def serve(scheduled: float) -> int:
        append = idle.get()
        try:
            done = append()
        finally:
            idle.put(append)
        latencies.append(time.perf_counter() - scheduled)
        return done

    with quiet_generator(), ThreadPoolExecutor(max_workers=len(appends)) as pool:
        start = time.perf_counter()
        futures = []
        for i in range(arrivals):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(serve, scheduled))
        done = sum(f.result() for f in futures)
    return Measurement(done, time.perf_counter() - start, latencies)
