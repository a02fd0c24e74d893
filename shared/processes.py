"""Work shared out to spawned processes: Python runs one CPU per process, so CPU-bound work
(a rebuild, a policy publication's re-evaluation) uses a machine's other cores only from
processes of its own."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
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


def cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


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
