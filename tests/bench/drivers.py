"""Load drivers: closed loop (each writer appends as fast as it can) and open loop (appends
arrive at a fixed rate whatever the latency), for asyncio writers and for thread writers.

Open-loop latency is measured from each append's *scheduled* arrival, so time spent waiting
for a free connection counts: a closed loop hides that queueing (coordinated omission).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


async def closed_loop(appends: Sequence[AsyncAppend], batch: int, budget: Budget) -> Measurement:
    latencies: list[float] = []

    async def drive(append: AsyncAppend) -> int:
        done = 0
        while budget.take(batch):
            began = time.perf_counter()
            done += await append()
            latencies.append(time.perf_counter() - began)
        return done

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
    start = budget.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Measurement(
        sum(counts), time.perf_counter() - start, [x for ls in latencies for x in ls]
    )


async def open_loop(appends: Sequence[AsyncAppend], rate: float, arrivals: int) -> Measurement:
    """`arrivals` single-event appends at `rate` per second, each served by whichever writer
    (connection) is free."""
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

    start = time.perf_counter()
    tasks = []
    for i in range(arrivals):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(serve(scheduled)))
    counts = await asyncio.gather(*tasks)
    return Measurement(sum(counts), time.perf_counter() - start, latencies)


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

    with ThreadPoolExecutor(max_workers=len(appends)) as pool:
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
