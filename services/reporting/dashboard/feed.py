"""The live figures behind every open dashboard of one service instance.

One poller per instance, however many viewers: it runs while at least one stream is open
and stops with the last one. Every `POLL_SECONDS` it
- reads a change marker: the consumer's stored offsets (they move with every batch the
  projection commits, in the same transaction as the rows), the projection generation (a
  rebuild swapped in) and the number of frozen demographic releases;
- asks the broker for the consumer's lag (the freshness section, every tick);
- recomputes the report sections when the marker moved, or `REFRESH_SECONDS` after the
  last computation, because some figures move with the clock alone (days of exposure,
  grants reaching their holding window, the day the series ends on).
Viewers wait on `wait_for_change` and compare sections themselves, so a slow viewer skips
intermediate states instead of queueing them.

The consumer exposes no notification hook; polling a one-row query twice a second is the
price of not coupling the consumer to its readers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.adapters.store import last_event_times
from services.reporting.adapters.tables import demographic_releases, rebuilds
from services.reporting.api.rows import snapshot
from services.reporting.dashboard.figures import (
    Sections,
    build_sections,
    freshness_section,
    load_rows,
)
from shared.eventstore.tables import checkpoints
from shared.transport.base import TopicPartition

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
REFRESH_SECONDS = 30.0
LINGER_SECONDS = 10.0
"""How long the poller outlives its last viewer: a page reconnecting finds it running."""
LAG_TIMEOUT_SECONDS = 2.0

LagSource = Callable[[], Awaitable[Mapping[TopicPartition, int]] | None]
"""The consumer's lag, or None while the consumer has not started."""


class DashboardFeed:
    def __init__(
        self,
        engine: AsyncEngine,
        consumer_name: str,
        lag: LagSource,
        k: int,
        *,
        poll_seconds: float = POLL_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._engine = engine
        self._consumer_name = consumer_name
        self._lag = lag
        self._k = k
        self._poll = poll_seconds
        self._refresh = refresh_seconds
        self._linger = linger_seconds
        self.sections: Sections = {}
        self.version = 0
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._viewers = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.TimerHandle | None = None

    @asynccontextmanager
    async def viewing(self) -> AsyncIterator[None]:
        """Keeps the poller running while the caller views; waits for the first figures."""
        self._viewers += 1
        if self._stopping is not None:
            self._stopping.cancel()
            self._stopping = None
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.create_task(self._run(), name="dashboard-feed")
        try:
            await self._ready.wait()
            yield
        finally:
            self._viewers -= 1
            if self._viewers == 0:
                loop = asyncio.get_running_loop()
                self._stopping = loop.call_later(self._linger, self._stop_if_idle)

    async def close(self) -> None:
        """Stops polling for good (the app is shutting down)."""
        if self._stopping is not None:
            self._stopping.cancel()
            self._stopping = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _stop_if_idle(self) -> None:
        self._stopping = None
        if self._viewers == 0 and self._task is not None:
            self._task.cancel()
            self._task = None
            self.sections = {}

    async def wait_for_change(self, seen: int, within: float) -> bool:
        """Whether the figures changed after version `seen` within `within` seconds."""
        if self.version != seen:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), within)
        except TimeoutError:
            return self.version != seen
        return True

    def _publish(self, sections: Sections) -> None:
        if sections == self.sections:
            return
        self.sections = sections
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _run(self) -> None:
        marker: tuple[Any, ...] | None = None
        computed_at = 0.0
        reports: Sections = {}
        failing = False
        loop = asyncio.get_running_loop()
        while True:
            try:
                now_marker = await self._marker()
                due = loop.time() - computed_at >= self._refresh
                if now_marker != marker or due or not reports:
                    reports = await self._reports()
                    marker, computed_at = now_marker, loop.time()
                freshness = await self._freshness()
                self._publish({**reports, "freshness": freshness, "status": {"ok": True}})
                if failing:
                    log.info("dashboard feed: figures available again")
                failing = False
            except Exception as exc:  # keep polling: the next tick may succeed
                if not failing:
                    log.warning("dashboard feed: cannot compute the figures", exc_info=exc)
                failing = True
                marker = None
                detail = "the figures cannot be read right now; showing the last ones"
                self._publish({**self.sections, "status": {"ok": False, "detail": detail}})
            self._ready.set()
            await asyncio.sleep(self._poll)

    async def _marker(self) -> tuple[Any, ...]:
        offsets = (
            sa.select(sa.func.coalesce(sa.func.sum(checkpoints.c.next_offset), 0))
            .where(checkpoints.c.consumer == self._consumer_name)
            .scalar_subquery()
        )
        generation = sa.select(sa.func.max(rebuilds.c.generation)).scalar_subquery()
        released = sa.select(sa.func.count()).select_from(demographic_releases).scalar_subquery()
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(offsets, generation, released))).one()
        return tuple(row)

    async def _reports(self) -> Sections:
        at = datetime.now(UTC)
        async with snapshot(self._engine) as conn:
            data = await load_rows(conn, at)
        return build_sections(data, at, self._k)

    async def _freshness(self) -> dict[str, Any]:
        async with self._engine.connect() as conn:
            seen = await last_event_times(conn, self._consumer_name)
        at = datetime.now(UTC)
        pending = self._lag()
        if pending is None:
            return freshness_section(None, seen, at, status="starting")
        try:
            lag = await asyncio.wait_for(pending, LAG_TIMEOUT_SECONDS)
        except Exception as exc:  # the broker's answer is optional: report, don't fail
            log.debug("dashboard feed: no lag from the broker: %s", exc)
            return freshness_section(None, seen, at, status="broker unavailable")
        return freshness_section(lag, seen, at)
