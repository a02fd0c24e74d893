"""The demographic feed end to end on the real stack (PostgreSQL + Kafka): people
self-identify through the registry, the quarter closes, reporting's feed stores the
registry's aggregate counts, `/v1/reports/dei/demographics` releases them with suppression;
then one person's self-identification is erased, and the stored counts are recomputed
without them, a quarter released afterwards leaves them out, a quarter released before
stays frozen, and their answer is nowhere in clear text (Kafka, logs, any table).

Time: answers are recorded now, so the test moves the registry's clock (the dependency
`dei_aggregates.now`, which decides which quarters are closed) to the start of the quarter
after next once everyone has answered: this quarter and the next are then closed, and both
hold everyone. The clock is never a request parameter, so no caller can ask for a table
of a quarter still running."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.api import dei_aggregates
from services.registry.api.dei_aggregates import Quarter
from services.registry.app import app as registry_app
from services.reporting.adapters.tables import demographic_counts
from services.reporting.app import app as reporting_app
from services.reporting.projections.reports import DemographicCount, demographic_release
from shared.db import create_engine
from shared.settings import ServiceSettings
from tests.faults.harness import eventually, read_raw_records
from tests.faults.services import registry_events
from tests.faults.test_dei_privacy import _clean, _clean_bytes, _every_row, _register
from tests.servers import RunningApp, isolated_settings, serve

K = 5  # the configured default (WFE_REPORTING_DEI_K)
PER_TYPE_AND_VALUE = K  # one person fewer suppresses the cell


@dataclass
class Feed:
    settings: ServiceSettings
    registry: RunningApp
    reporting: RunningApp
    reporting_db: AsyncEngine
    clock: list[datetime]


@pytest.fixture
async def feed(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[Feed]:
    async with isolated_settings(postgres_admin_url, kafka_bootstrap, tmp_path, "dei") as base:
        settings = base.model_copy(update={"dei_feed_seconds": 0.2})
        assert settings.database_url is not None
        clock = [datetime.now(UTC)]
        registry_served = registry_app(settings)
        registry_served.dependency_overrides[dei_aggregates.now] = lambda: clock[0]
        engine = create_engine(settings.database_url, schema="reporting", pool_size=2)
        try:
            async with serve(registry_served) as registry:
                wired = settings.model_copy(update={"registry_url": registry.base_url})
                async with serve(reporting_app(wired)) as reporting:
                    yield Feed(settings, registry, reporting, engine, clock)
        finally:
            await engine.dispose()


async def test_erasure_recomputes_the_feed_and_leaves_releases_frozen(
    feed: Feed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    marker = f"answer-{uuid.uuid4().hex}"  # the erased person's ethnicity: unique, findable
    people: dict[str, tuple[str, dict[str, str]]] = {}
    async with feed.registry.client("contributors:write") as http:
        for contributor_type in ("employee", "contractor"):
            for gender in ("woman", "man"):
                for n in range(PER_TYPE_AND_VALUE):
                    person = await _register(http, contributor_type, f"{gender} {n}")
                    people[person] = (contributor_type, {"gender": gender})
        erased = next(
            p for p, (t, a) in people.items() if t == "employee" and a == {"gender": "woman"}
        )
        people[erased][1]["ethnicity"] = marker
        for person, (_, answers) in people.items():
            recorded = await http.put(
                f"/v1/contributors/{person}/self-identification", json={"answers": answers}
            )
            assert recorded.status_code == 200, recorded.text

    this = Quarter.containing(feed.clock[0])
    closed = [this, this.next()]
    aggregator = feed.registry.client("dei:feed")
    async with aggregator as registry:
        # While this quarter runs, nothing is closed that anyone answered in.
        assert (await registry.get("/v1/self-identification/periods")).json() == {"periods": []}
        await _refused(registry, str(this), "period-not-closed")
        feed.clock[0] = closed[-1].end
        assert (await registry.get("/v1/self-identification/periods")).json() == {
            "periods": [str(q) for q in closed]
        }
        await _refused(registry, str(closed[-1].next()), "period-not-closed")  # running
        await _refused(registry, "2999-Q1", "period-not-closed")  # future
        await _refused(registry, "2025-Q5", "validation-failed")  # no such quarter

    everyone = _fold(people.values())
    await _stored_counts_become(feed, {str(q): everyone for q in closed})
    assert not _clean(" ".join(map(str, await _rows(feed))), [marker]), (
        "the feed as received holds the answer before the erasure: the check below can fail"
    )

    async with feed.reporting.client("dei:aggregate") as reports:
        before = await _release(reports, str(this), "gender")
        assert before["total"] == 4 * PER_TYPE_AND_VALUE
        assert before["employee"]["woman"] == PER_TYPE_AND_VALUE

        async with feed.registry.client("contributors:write") as http:
            gone = await http.delete(f"/v1/contributors/{erased}/self-identification")
            assert gone.status_code == 200, gone.text
        without = _fold(answered for p, answered in people.items() if p != erased)
        await _stored_counts_become(feed, {str(q): without for q in closed})

        assert await _release(reports, str(this), "gender") == before  # frozen, as released
        after = await _release(reports, str(closed[-1]), "gender")
        assert after["total"] == 4 * PER_TYPE_AND_VALUE - 1
        assert after["employee"]["woman"] is None  # 4 < k: suppressed, with its complement
        assert _cells(after) == _expected(without, str(closed[-1]), "gender")
        nobody = await reports.get(
            "/v1/reports/dei/demographics",
            params={"period": str(closed[-1]), "dimension": "ethnicity"},
        )
        assert nobody.status_code == 404, nobody.text  # only the erased person answered it

    # The erased person's answer is nowhere in clear text.
    rows = await _every_row(feed.settings.database_url or "")
    assert any("self_identification_erased" in r for r in rows)  # the registry's schema too
    assert any(str(this) in r for r in rows)  # and reporting's
    assert [r for r in rows if not _clean(r, [marker])] == []
    events = await registry_events(feed.settings.database_url or "")

    async def all_published() -> bool:
        return len(await read_raw_records(_bootstrap(feed), feed.settings.topics.registry)) >= len(
            events
        )

    await eventually(all_published, 60, "every registry event on the topic")
    topics = feed.settings.topics
    records = [
        r
        for topic in (topics.registry, topics.policy, topics.deadletter)
        for r in await read_raw_records(_bootstrap(feed), topic)
    ]
    assert any(b"self_identification_erased" in r for r in records)
    assert [r for r in records if not _clean_bytes(r, [marker])] == []
    log = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "/v1/self-identification/aggregates" in log, "no request logged: nothing checked"
    assert _clean(log, [marker])


def _fold(answered: Any) -> Counter[tuple[str, str, str]]:
    """The independent computation: who answered what, per type."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for contributor_type, answers in answered:
        for dimension, value in answers.items():
            counts[contributor_type, dimension, value] += 1
    return counts


async def _rows(feed: Feed) -> list[Any]:
    async with feed.reporting_db.connect() as conn:
        return list(await conn.execute(sa.select(demographic_counts)))


async def _stored_counts_become(
    feed: Feed, expected: dict[str, Counter[tuple[str, str, str]]]
) -> None:
    async def stored() -> bool:
        found: dict[str, Counter[tuple[str, str, str]]] = {}
        for r in await _rows(feed):
            found.setdefault(r.period, Counter())[r.contributor_type, r.dimension, r.value] = (
                r.count
            )
        return found == expected

    await eventually(stored, 60, f"demographic_counts == {expected}")


async def _release(reports: httpx.AsyncClient, period: str, dimension: str) -> dict[str, Any]:
    """The released table by type, with its margins, `k` and `released_at`."""
    answer = await reports.get(
        "/v1/reports/dei/demographics", params={"period": period, "dimension": dimension}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    table: dict[str, Any] = {item.pop("contributor_type"): item for item in body["items"]}
    table["total"] = table.pop("total")["total"]
    table["released"] = (body["k"], body["released_at"])
    return table


def _cells(table: dict[str, Any]) -> dict[str, Any]:
    return {row: cells for row, cells in table.items() if row != "released"}


def _expected(counts: Counter[tuple[str, str, str]], period: str, dimension: str) -> dict[str, Any]:
    """The release the pure rules make of the independent fold, shaped as `_release`."""
    cells = [DemographicCount(period, t, d, v, n) for (t, d, v), n in counts.items()]
    table = demographic_release(cells, period, dimension, K).table
    assert table is not None
    out: dict[str, Any] = {
        row: {**dict(zip(table.columns, line, strict=True)), "total": n}
        for row, line, n in zip(table.rows, table.cells, table.row_totals, strict=True)
    }
    out["total"] = table.total
    return out


async def _refused(registry: httpx.AsyncClient, period: str, kind: str) -> None:
    answer = await registry.get("/v1/self-identification/aggregates", params={"period": period})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(kind), answer.text


def _bootstrap(feed: Feed) -> str:
    assert feed.settings.kafka_bootstrap_servers is not None
    return feed.settings.kafka_bootstrap_servers
