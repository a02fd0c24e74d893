"""How routes reach reporting's pieces, and the query parameters the reports share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.consumer import ConsumerWorker
from shared.app import ServiceContext
from shared.http.auth import Principal, requires
from shared.http.problems import Problem
from shared.http.text import PRINTABLE, IsoDate, IsoDateTime

SERVICE = "reporting"


class ReportingOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WFE_REPORTING_")

    dei_k: int = Field(
        default=5,
        ge=2,
        description="Smallest count a DEI figure may show; configuration, never a request.",
    )


@dataclass(frozen=True)
class ReportingContext:
    engine: AsyncEngine
    worker: ConsumerWorker
    options: ReportingOptions


async def reporting_context(request: Request) -> ReportingContext:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    service: ServiceContext = request.app.state.services[SERVICE]
    found: ReportingContext = service.extras[SERVICE]
    return found


Context = Annotated[ReportingContext, Depends(reporting_context)]
Reader = Annotated[Principal, Depends(requires("reports:read"))]
DeiAggregateReader = Annotated[Principal, Depends(requires("dei:aggregate"))]

ContributorType = Annotated[
    str | None,
    Query(alias="type", max_length=50, pattern=PRINTABLE, description="Only this contributor type"),
]
BusinessUnit = Annotated[
    str | None, Query(max_length=200, pattern=PRINTABLE, description="Only this business unit")
]
At = Annotated[IsoDateTime | None, Query(description="The instant asked about (default: now)")]
On = Annotated[IsoDate | None, Query(description="The UTC day asked about (default: today)")]
From = Annotated[IsoDate | None, Query(alias="from", description="First UTC day (inclusive)")]
To = Annotated[IsoDate | None, Query(alias="to", description="Last UTC day (inclusive)")]


def now() -> datetime:
    return datetime.now(UTC)


def instant(at: datetime | None) -> datetime:
    return (at or now()).astimezone(UTC)


def day_range(
    start: date | None, end: date | None, default_days: int, max_days: int
) -> tuple[date, date]:
    """[from, to], by default the `default_days` days up to today."""
    last = end or now().date()
    first = start or date.fromordinal(last.toordinal() - default_days + 1)
    if last < first:
        raise _invalid_query("to", "must not be before from")
    if (last - first).days + 1 > max_days:
        raise _invalid_query("from", f"a range covers at most {max_days} days")
    return first, last


def _invalid_query(name: str, detail: str) -> Problem:
    return Problem(
        422,
        "validation-failed",
        "Validation failed",
        f"/{name}: {detail}",
        errors=[{"pointer": f"/{name}", "in": "query", "detail": detail, "code": "invalid"}],
    )
