"""How far behind the topics the reports are, per partition this instance consumes.

Events: what the broker holds beyond the stored offset. Seconds: 0 when nothing is
waiting, else the age of the last event processed (the recorded time of the newest event
the reports include), which bounds how stale they are; null before any was processed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from services.reporting.adapters.store import last_event_times
from services.reporting.api.context import Context, Reader, now
from services.reporting.api.render import report
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/reports/freshness", tags=["reports"])

COLUMNS = ["topic", "partition", "lag_events", "lag_seconds", "last_event_time"]


@router.get("", summary="Consumer lag per partition, in events and seconds")
async def freshness(request: Request, ctx: Context, _: Reader) -> Response:
    consumer = ctx.worker.consumer
    if consumer is None:
        raise Problem(
            503,
            "not-consuming",
            "Not consuming",
            "the reporting consumer has not started yet: retry shortly",
            headers={"Retry-After": "2"},
        )
    lag = await consumer.lag()
    async with ctx.engine.connect() as conn:
        last = await last_event_times(conn, consumer.name)
    moment = now()
    items = [
        {
            "topic": tp.topic,
            "partition": tp.partition,
            "lag_events": behind,
            "lag_seconds": _seconds(behind, last.get(tp), moment),
            "last_event_time": last.get(tp),
        }
        for tp, behind in sorted(lag.items())
    ]
    summary = {
        "consumer": consumer.name,
        "at": moment,
        # Nothing assigned yet (the group is still forming) is not caught up.
        "caught_up": bool(lag) and not any(lag.values()),
        "lag_events": sum(lag.values()),
    }
    return report(request, "freshness", {}, items, COLUMNS, summary=summary)


def _seconds(behind: int, seen: datetime | None, moment: datetime) -> float | None:
    if not behind:
        return 0.0
    if seen is None:
        return None
    return max(0.0, (moment - seen).total_seconds())
