"""PostgreSQL is stopped (fast mode: open transactions rolled back) and started again while
clients keep writing through the registry API, which is never restarted. While the
database is away every answer is a 503 problem with `Retry-After`; once it is back the API
and its relay recover by themselves; every acknowledged write is stored once (I1, I2, I3)
and published (I6)."""

from __future__ import annotations

import asyncio
import time

from shared.http.problems import PROBLEM_JSON
from shared.stack import StackSettings, postgres
from tests.faults.harness import eventually, read_topic
from tests.faults.profile import PROFILE
from tests.faults.services import (
    ServiceProcess,
    WriteStats,
    effects_per_key,
    register_and_rename,
    registry_events,
    streams_with_holes,
)

CLIENTS = 8


async def test_api_answers_503_while_postgres_is_down_and_recovers_alone(
    registry_service: ServiceProcess,
) -> None:
    api = registry_service
    settings = StackSettings()
    stats = WriteStats()
    stop_writing = asyncio.Event()
    readiness: list[tuple[int, str | None]] = []

    async def client(n: int) -> None:
        async with api.client() as http:
            await register_and_rename(http, n, stats, lambda _: not stop_writing.is_set())

    writers = [asyncio.create_task(client(n)) for n in range(CLIENTS)]

    async def acknowledged(at_least: int) -> bool:
        for writer in writers:
            if writer.done():
                writer.result()  # a writer that failed fails the test now, not at the deadline
        return len(stats.acknowledged) >= at_least

    try:
        await eventually(lambda: acknowledged(50), 60, "writes before the outage")
        assert await postgres.stop(settings)
        down_since = time.monotonic()
        # Counted once the server is gone: what is acknowledged after this was answered
        # before the stop, at most one request per client still on its way back.
        before = len(stats.acknowledged)
        async with api.client() as http:
            while time.monotonic() - down_since < PROFILE.postgres_outage:
                ready = await http.get("/readyz")
                readiness.append((ready.status_code, ready.headers.get("retry-after")))
                await asyncio.sleep(0.5)
        during = len(stats.acknowledged) - before
        refused = len(stats.unavailable)
        await postgres.start(settings)
        back = time.monotonic()
        await eventually(lambda: acknowledged(before + during + 50), 60, "writes again")
        recovery = time.monotonic() - back
    finally:
        stop_writing.set()
        await postgres.start(settings)  # whatever happened, leave PostgreSQL running
        results = await asyncio.gather(*writers, return_exceptions=True)
    assert [r for r in results if r is not None] == []

    assert api.running(), "the API must recover without a restart"
    assert api.kills == 0
    assert refused > 0, "no request met the outage"
    assert during <= CLIENTS, "writes acknowledged with the database down"
    for response in stats.unavailable:
        assert response.headers["content-type"] == PROBLEM_JSON
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["status"] == 503
    assert set(stats.statuses) <= {200, 201, 503}, stats.statuses
    assert not stats.dropped, "the API must answer, not drop the connection"
    assert readiness
    assert all(status == 503 and retry for status, retry in readiness), readiness

    events = await registry_events(api.database_url)
    per_key = effects_per_key(events)
    assert [k for k in stats.acknowledged if per_key[k] != 1] == []
    assert set(per_key) == set(stats.acknowledged)
    assert streams_with_holes(events) == {}
    stored_ids = {e.event_id for e in events}

    async def all_published() -> bool:
        return {e.id for _, e in await read_topic(api.bootstrap, api.topic)} == stored_ids

    await eventually(all_published, 60, "the relay to publish every stored event")
    print(
        f"postgres down {PROFILE.postgres_outage:.0f}s: writes acknowledged {len(events)}, "
        f"lost 0, doubled 0, 503 answers {refused}, statuses {dict(stats.statuses)}, "
        f"dropped connections {dict(stats.dropped)}, first writes {recovery:.1f}s after restart"
    )
