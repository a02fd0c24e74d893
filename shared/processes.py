"""Work shared out to spawned processes: Python runs one CPU per process, so CPU-bound work
(a rebuild, a policy publication's re-evaluation) uses a machine's other cores only from
processes of its own."""

from __future__ import annotations

import asyncio
import gc
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any

SPAWN = multiprocessing.get_context("spawn")
"""A fresh interpreter per process: nothing inherited from the parent's event loop, its
connections or its threads (a forked copy of them would share the parent's sockets)."""


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection for a while: for CPU-bound work that holds thousands of
    objects at a time and drops them without reference cycles.

    Python collects its oldest generation whenever the objects that survived younger ones
    outnumber a quarter of it, which such work keeps doing: every pass then walks everything
    the process holds (its modules too), for nothing, as reference counting frees what the
    work drops. The few cycles made meanwhile are collected once collection resumes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


CGROUP = Path("/sys/fs/cgroup")


def cpus(cgroup: Path = CGROUP) -> int:
    """The CPUs this process may use: the ones it may run on (its affinity, not the
    machine's count), fewer if its container's CPU quota allows less time (rounded up).

    In a container limited to 2 CPUs on a 16-CPU node, the affinity alone would have a
    publication or a rebuild start 16 processes of about 150 MiB each. No library reads the
    quota (`os.process_cpu_count` is the affinity too), hence the few lines below."""
    allowed = len(os.sched_getaffinity(0))
    quota = _quota(cgroup)
    return allowed if quota is None else max(1, min(allowed, math.ceil(quota)))


def _quota(cgroup: Path) -> float | None:
    """CPUs' worth of time the cgroup may use (cgroup v2 `cpu.max`, else v1
    `cpu.cfs_quota_us` / `cpu.cfs_period_us`); None: no limit, or none to be read."""
    try:
        limit, period = (cgroup / "cpu.max").read_text().split()
        return None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        pass
    try:
        limit_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return limit_us / period_us if limit_us > 0 and period_us > 0 else None


class Children:
    """Processes running `target(*args)`, one per tuple of `args`, as an async context:
    started on entry; on exit, any still running (the parent failed or was cancelled) are
    terminated, and all are joined."""

    def __init__(self, target: Callable[..., None], args: Sequence[tuple[Any, ...]], name: str):
        self._processes: list[BaseProcess] = [
            SPAWN.Process(target=target, args=share, name=f"{name}-{number}", daemon=True)
            for number, share in enumerate(args, 1)
        ]

    async def __aenter__(self) -> Children:
        for process in self._processes:
            process.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
            process.join()

    def exit_codes(self) -> list[int | None]:
        """Per process, in the order of `args`: None while it runs, 0 if it succeeded."""
        return [p.exitcode for p in self._processes]

    async def wait(self, poll: float, each: Callable[[], None] = lambda: None) -> None:
        """Until every process has exited, calling `each` every `poll` seconds meanwhile."""
        while any(p.is_alive() for p in self._processes):
            each()
            await asyncio.sleep(poll)
