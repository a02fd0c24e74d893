"""An open loop that survives overload: arrivals at a fixed rate, as in `drivers.open_loop`,
but a service slower than the offered rate builds a queue that would take minutes to drain.
Arrivals still unanswered `grace` seconds after the last one was due are given up on and
count as infinitely late, so the percentiles say "overloaded" instead of hiding it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tests.bench.drivers import AsyncAppend, Measurement


@dataclass(frozen=True)
class OpenLoopResult:
    measurement: Measurement
    """Events answered, over the time until the last answer (or until giving up)."""
    unanswered: int


async def open_loop_with_grace(
    appends: Sequence[AsyncAppend], rate: float, arrivals: int, grace: float
) -> OpenLoopResult:
    """`arrivals` appends at `rate` per second, each served by whichever writer is free;
    latency runs from an arrival's scheduled time to its answer."""
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
    tasks: list[asyncio.Task[int]] = []
    for i in range(arrivals):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(serve(scheduled)))
    deadline = start + arrivals / rate + grace
    done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - start
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    events = sum(task.result() for task in done)
    latencies += [math.inf] * len(pending)
    return OpenLoopResult(Measurement(events, elapsed, latencies), len(pending))
