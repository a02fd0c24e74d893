"""The aggregate-only self-identification feed: counts per closed quarter, contributor type,
dimension and value, computed here, where the encrypted answers live, so that no individual
answer ever leaves the registry (docs/reporting.md, "DEI privacy rules").

Who is counted for a quarter: the contributors whose self-identification was on file at the
quarter's end (what the registry had recorded by then, their type as of then) and whose key
still exists now. Erased answers are crypto-shredded, so a recomputation after an erasure
leaves the person out of every quarter. The vault keeps only the latest answers, so a
person who answered again later is counted with the answers on file now.

Only closed quarters are answered: a table of a quarter still running would change under
its readers, and two versions of one table could be subtracted. The counts are exact (the
release in reporting suppresses), so they are for the reporting service alone: the scope
`dei:feed`, which no person's token should hold (an analyst's `dei:aggregate` reads only
released, suppressed tables). Nothing here logs or echoes a value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry.adapters import vault
from services.registry.adapters.tables import self_identifications, subject_keys
from services.registry.api.context import Context
from services.registry.domain.events import SelfIdentificationRecorded
from services.registry.handlers import Registry
from shared.eventstore.tables import events
from shared.http.auth import Principal, requires
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/self-identification", tags=["self-identification"])

# Years 1900-2999: every quarter of them, and the next one, is a valid datetime.
PERIOD_PATTERN = r"^(?:19|2[0-9])[0-9]{2}-Q[1-4]$"
_PERIOD = re.compile(PERIOD_PATTERN)


@dataclass(frozen=True, order=True, slots=True)
class Quarter:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        if not _PERIOD.match(text):
            raise ValueError(f"not a quarter like 2025-Q1: {text!r}")
        return cls(int(text[:4]), int(text[-1]))

    @classmethod
    def containing(cls, moment: datetime) -> Quarter:
        utc = moment.astimezone(UTC)
        return cls(utc.year, (utc.month - 1) // 3 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.quarter - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the quarter (exclusive)."""
        return self.next().start

    def next(self) -> Quarter:
        return Quarter(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.quarter}"


def closed_quarters(first: datetime | None, now: datetime) -> list[Quarter]:
    """Every quarter from the one holding `first` up to the last one that ended by `now`."""
    if first is None:
        return []
    quarter, current = Quarter.containing(first), Quarter.containing(now)
    closed: list[Quarter] = []
    while quarter < current:
        closed.append(quarter)
        quarter = quarter.next()
    return closed


def count_answers(members: Iterable[tuple[str, Mapping[str, str]]]) -> list[dict[str, Any]]:
    """Counts per (contributor type, dimension, value) over (type, answers) pairs; a
    dimension someone did not answer counts nowhere."""
    cells: Counter[tuple[str, str, str]] = Counter()
    for contributor_type, answers in members:
        for dimension, value in answers.items():
            cells[contributor_type, dimension, value] += 1
    return [
        {"contributor_type": t, "dimension": d, "value": v, "count": n}
        for (t, d, v), n in sorted(cells.items())
    ]


async def now() -> datetime:
    """The clock that decides which quarters are closed (a dependency, so tests can move it;
    async, as FastAPI runs a plain `def` dependency in its thread pool)."""
    return datetime.now(UTC)


Clock = Annotated[datetime, Depends(now)]
Aggregator = Annotated[Principal, Depends(requires("dei:feed"))]
Period = Annotated[
    str,
    Query(pattern=PERIOD_PATTERN, max_length=7, description="A closed quarter, e.g. 2025-Q1"),
]


@router.get("/periods", summary="The closed quarters the aggregate feed can answer")
async def periods(ctx: Context, _: Aggregator, clock: Clock) -> dict[str, Any]:
    async with _snapshot(ctx.engine) as conn:
        first = await _first_on_file(conn)
    return {"periods": [str(q) for q in closed_quarters(first, clock)]}


@router.get("/aggregates", summary="Counts per type, dimension and value for a closed quarter")
async def aggregates(ctx: Context, _: Aggregator, clock: Clock, period: Period) -> dict[str, Any]:
    quarter = Quarter.parse(period)
    if quarter.end > clock:
        raise Problem(
            422,
            "period-not-closed",
            "Period not closed",
            f"/period: {period} has not ended yet; only closed quarters are aggregated",
            errors=[{"pointer": "/period", "in": "query", "detail": "not closed", "code": "open"}],
        )
    async with _snapshot(ctx.engine) as conn:
        members = await _members(conn, ctx.registry, quarter.end - timedelta(microseconds=1))
    return {"period": period, "counts": count_answers(members)}


@asynccontextmanager
async def _snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One consistent view: the vault and the streams read together."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def _readable() -> sa.Select[Any]:
    """Who has answers on file whose key still exists (erasure deletes both anyway)."""
    return sa.select(self_identifications.c.contributor_id).join(
        subject_keys,
        sa.and_(
            subject_keys.c.contributor_id == self_identifications.c.contributor_id,
            subject_keys.c.key.is_not(None),
        ),
    )


async def _first_on_file(conn: AsyncConnection) -> datetime | None:
    """When the earliest answers of anyone still on file were recorded: no quarter before
    it has anyone to count."""
    first: datetime | None = await conn.scalar(
        sa.select(sa.func.min(events.c.recorded_time)).where(
            events.c.type == SelfIdentificationRecorded.TYPE,
            events.c.stream_id.in_(_readable()),
        )
    )
    return first


async def _members(
    conn: AsyncConnection, registry: Registry, last_instant: datetime
) -> list[tuple[str, dict[str, str]]]:
    members: list[tuple[str, dict[str, str]]] = []
    readable = _readable().order_by(self_identifications.c.contributor_id)
    for contributor_id in list(await conn.scalars(readable)):
        state = await registry.as_of(
            conn, contributor_id, recorded=last_instant, effective=last_instant
        )
        if state is None or state.self_identification is None:
            continue
        answers = await vault.read(conn, contributor_id)
        if answers is not None:
            members.append((state.contributor_type, answers))
    return members
