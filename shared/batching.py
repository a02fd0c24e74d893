"""Group commit: concurrent requests share one transaction.

A durable commit costs a flush of the write-ahead log, and every statement a round trip;
requests that arrive while a transaction is in flight wait for the next one and go
together, so under load the fixed costs are paid once per group instead of once per request.
A lone request is never held back: with nothing in flight it runs at once, as a group of one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from shared.telemetry import GROUP_COMMIT_SIZE

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Runs `run` on groups of submitted items, at most `concurrency` groups at a time and
    `max_group` items per group. `run` answers each item in order; its failure fails the
    whole group (per-item refusals belong in the results)."""

    def __init__(
        self,
        name: str,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_group: int = 256,
        concurrency: int = 2,
    ) -> None:
        self._size = GROUP_COMMIT_SIZE.labels(name)
        self._run = run
        self._max_group = max_group
        self._concurrency = concurrency
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running < self._concurrency:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)  # a strong reference until it ends
            task.add_done_callback(self._finished)
        return await future

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._running -= 1
        if task.cancelled() and not self._running:  # shutting down: nobody is left to serve
            for _, future in self._waiting:
                future.cancel()
            self._waiting.clear()

    async def _drain(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
            self._size.observe(len(group))
            try:
                results = await self._run([item for item, _ in group])
            except Exception as error:
                for _, future in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            except BaseException:  # cancelled (shutting down): so are its waiters
                for _, future in group:
                    future.cancel()
                raise
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():  # its caller may have gone (client disconnected)
                    future.set_result(result)
