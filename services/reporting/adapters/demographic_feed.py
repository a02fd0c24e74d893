"""The demographic feed: the registry's aggregate-only self-identification counts, per closed
quarter, pulled over HTTP into `demographic_counts` (docs/reporting.md, "DEI privacy rules").

Reporting never sees an answer. It asks the registry which quarters are closed
(`GET /v1/self-identification/periods`) and fetches each one it has not stored
(`GET /v1/self-identification/aggregates?period=…`) with a token of its own holding
`dei:feed`, minted with the shared signing key.

An erasure (`self_identification_erased` on the registry topic) makes every stored quarter
stale: the registry now counts without the person. The consumer forgets all stored counts
in the batch transaction that applies the erasure (`forget_counts`), so the forgetting is as
durable as the consumer's offset, and then wakes the feed, which fetches them all again.
Released tables (`demographic_releases`) are left as they were: see docs/reporting.md.

A fetch and a forgetting exclude each other (`_hold`): otherwise counts fetched just before
an erasure could be stored just after the consumer forgot them, and never be fetched again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

import httpx
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.adapters.tables import demographic_counts
from shared.app import ServiceContext
from shared.http.auth import Authenticator, signing_key

log = logging.getLogger(__name__)

SUBJECT = "reporting-demographic-feed"
# Advisory locks are per database; the schema keeps two reporting schemas apart.
_FEED_LOCK = "hashtextextended('reporting-demographic-feed:' || current_schema(), 0)"


class _Count(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contributor_type: str
    dimension: str
    value: str
    count: int


class _Aggregates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str
    counts: list[_Count]


class _Periods(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    periods: list[str]


class FeedUnavailable(Exception):
    """The registry did not answer as the feed expects; the next pass tries again. The
    message names the status or the kind of failure only, never a body (it holds values)."""


async def _hold(conn: AsyncConnection) -> None:
    """Until this transaction ends, no other fetch or forgetting runs. PostgreSQL: an
    advisory lock. SQLite (one process, embedded): the delete each caller issues next takes
    the database's write lock, which does the same."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_FEED_LOCK})"))


async def forget_counts(conn: AsyncConnection) -> None:
    """Every stored quarter is stale after an erasure: forget them, in the caller's
    transaction, so the feed fetches them again."""
    await _hold(conn)
    await conn.execute(demographic_counts.delete())


async def stored_periods(conn: AsyncConnection) -> set[str]:
    return set(await conn.scalars(sa.select(demographic_counts.c.period).distinct()))


class DemographicFeed:
    """A supervised worker: a pass at start, then every `dei_feed_seconds`, and at once when
    `wake` is called (after an erasure)."""

    def __init__(self, service: ServiceContext) -> None:
        self._service = service
        settings = service.settings
        self._authenticator = Authenticator(
            signing_key(settings.signing_key, settings.data_dir, settings.environment)
        )
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self._service.settings
        async with httpx.AsyncClient(base_url=settings.registry_url, timeout=30) as http:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.pass_once(http)
                except (httpx.HTTPError, FeedUnavailable, ValidationError) as exc:
                    # The registry may be starting or away: try again on the next pass.
                    log.warning("demographic feed: registry unavailable (%s)", _why(exc))
                await _first_of(stop, self._wake, settings.dei_feed_seconds)

    async def pass_once(self, http: httpx.AsyncClient) -> list[str]:
        """Fetches every closed quarter not stored yet; returns the quarters it stored."""
        listed = _Periods.model_validate(await self._get(http, "/v1/self-identification/periods"))
        async with self._service.engine.connect() as conn:
            known = await stored_periods(conn)
        fetched: list[str] = []
        for period in listed.periods:
            if period not in known and await self._store(http, period):
                fetched.append(period)
        return fetched

    async def _store(self, http: httpx.AsyncClient, period: str) -> bool:
        async with self._service.engine.begin() as conn:
            await _hold(conn)
            # Another instance may have stored it meanwhile; then this one has nothing to do.
            if period in await stored_periods(conn):
                return False
            stale = demographic_counts.delete().where(demographic_counts.c.period == period)
            await conn.execute(stale)
            found = _Aggregates.model_validate(
                await self._get(http, "/v1/self-identification/aggregates", period=period)
            )
            if found.period != period:
                raise FeedUnavailable(f"asked for {period}, answered {found.period}")
            await _insert(conn, period, found.counts)
        return True

    async def _get(self, http: httpx.AsyncClient, path: str, **params: str) -> object:
        token = self._authenticator.mint(SUBJECT, ["dei:feed"], timedelta(minutes=5))
        response = await http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise FeedUnavailable(f"{path} answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise FeedUnavailable(f"{path} answered no JSON") from None


async def _insert(conn: AsyncConnection, period: str, counts: Sequence[_Count]) -> None:
    if counts:
        await conn.execute(
            demographic_counts.insert(),
            [{"period": period, **c.model_dump()} for c in counts],
        )


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _why(exc: Exception) -> str:
    # A validation error's text quotes the input, which holds values: name the kind only.
    return type(exc).__name__ if isinstance(exc, ValidationError) else str(exc)
