"""Reporting's operations end to end, on the same kind of stack and ecosystem as
`test_reporting`: DEI releases, errors, duplicate and poisoned decisions (on both backends),
rebuilds while the service runs, and two instances sharing the partitions (the real stack)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from services.reporting.adapters import generations
from services.reporting.adapters.tables import (
    PROJECTED,
    contributor_facts,
    demographic_counts,
    rebuilds,
)
from services.reporting.consumer import CONSUMER
from services.reporting.projections.reports.dei import FEW
from services.reporting.rebuild import _splits, rebuild
from shared.eventstore.tables import checkpoints, consumed_streams
from tests.e2e import test_reporting_expected as expected
from tests.e2e.registry_client import PROBLEM, RegistryClient
from tests.e2e.test_cli import wfe
from tests.e2e.test_reporting_script import Script, Stack, caught_up, scripted
from tests.e2e.test_reporting_tables import (
    DIMENSIONS,
    counted,
    instances,
    items,
    on_topic,
    shape,
    snapshot,
    streams,
)
from tests.faults.harness import eventually, fresh_topic

# Smaller than the reports' ecosystem (it has every kind of history all the same): these
# tests compare tables with tables, not with a fold done here.
CONTRIBUTORS = 40


@pytest.fixture(scope="module")
async def script(stack: Stack) -> Script:
    return await scripted(stack, contributors=CONTRIBUTORS)


@pytest.fixture(scope="module")
async def real_script(real_stack: Stack) -> Script:
    """The same ecosystem on the real stack (posted once: `scripted` keeps it)."""
    return await scripted(real_stack, contributors=CONTRIBUTORS)


@pytest.fixture
async def reports(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.reporting.client("reports:read") as client:
        yield client


async def test_dei_demographics_are_suppressed_and_frozen(stack: Stack, script: Script) -> None:
    counts = {
        ("employee", "woman"): 12,
        ("employee", "man"): 9,
        ("employee", "non_binary"): 2,
        ("contractor", "woman"): 7,
        ("contractor", "man"): 6,
        ("contractor", "non_binary"): 1,
    }
    async with stack.engine.begin() as conn:
        await conn.execute(
            demographic_counts.insert(),
            [
                {
                    "period": "2025-Q1",
                    "contributor_type": t,
                    "dimension": "gender",
                    "value": v,
                    "count": n,
                }
                for (t, v), n in counts.items()
            ],
        )
    params = {"period": "2025-Q1", "dimension": "gender"}
    async with stack.reporting.client("reports:read") as reader:
        refused = await reader.get("/v1/reports/dei/demographics", params=params)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
    async with stack.reporting.client("dei:aggregate") as dei:
        first = (await dei.get("/v1/reports/dei/demographics", params=params)).json()
        grid = {line["contributor_type"]: line for line in first["items"]}
        # 3 < k gave non_binary: not even its label is released, only the few-answers column.
        assert all("non_binary" not in line for line in first["items"])
        assert grid["employee"][FEW] is None
        assert grid["contractor"][FEW] is None
        assert grid["total"][FEW] is None
        released = [
            v
            for line in first["items"]
            for k, v in line.items()
            if k != "contributor_type" and v is not None
        ]
        assert released
        assert all(v >= 5 for v in released)
        # Each line with a suppressed cell has two, so none follows from its total.
        assert all(sum(v is None for v in line.values()) != 1 for line in first["items"])
        async with stack.engine.begin() as conn:
            await conn.execute(
                sa.update(demographic_counts).values(count=demographic_counts.c["count"] + 1)
            )
        again = (await dei.get("/v1/reports/dei/demographics", params=params)).json()
        assert again == first
        missing = await dei.get(
            "/v1/reports/dei/demographics", params={**params, "period": "2024-Q4"}
        )
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM


async def test_errors_are_problems(
    stack: Stack, script: Script, reports: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=stack.reporting.base_url) as anonymous:
        assert (await anonymous.get("/v1/reports/composition")).status_code == 401
    async with stack.reporting.client("contributors:read") as wrong:
        assert (await wrong.get("/v1/reports/composition")).status_code == 403
    backwards = await reports.get(
        "/v1/reports/composition/series", params={"from": "2025-02-01", "to": "2025-01-01"}
    )
    unknown = await reports.get("/v1/reports/composition", params={"by": "shoe_size"})
    xml = await reports.get("/v1/reports/composition", headers={"accept": "application/xml"})
    for response, status in ((backwards, 422), (unknown, 422), (xml, 406)):
        assert response.status_code == status
        assert response.headers["content-type"] == PROBLEM


async def test_policy_decisions_count_once_and_poison_is_dead_lettered(
    stack: Stack, script: Script
) -> None:
    twice = script.decisions[-2]
    async with stack.engine.connect() as conn:
        history = await conn.scalar(
            sa.select(contributor_facts.c.history).where(
                contributor_facts.c.contributor_id == twice.subject
            )
        )
    assert history is not None
    assert [p["id"] for p in history["policy"]].count(twice.id) == 1
    # Only the malformed decision; the policy type reporting does not read is no poison.
    dead = await on_topic(stack.transport, stack.settings.topics.deadletter)
    assert dead
    assert all(e.data == script.decisions[-1].data for e in dead)


async def test_rebuild_gives_the_live_rows_and_live_consumers_carry_on(
    real_stack: Stack, real_script: Script
) -> None:
    # The real stack only: the online rebuild stages tables in a PostgreSQL schema; the
    # embedded mode rebuilds by starting again without reporting.db (see rebuild.py).
    stack, script = real_stack, real_script
    before, structure = await snapshot(stack.engine), await shape(stack.engine)
    phases: list[str] = []
    # Two processes, each reading half of the partitions of both topics.
    result = await rebuild(stack.settings, lambda p: phases.append(p.phase), processes=2)
    assert (result.generation, result.processes) == (1, 2)
    assert phases[-2:] == ["swapping", "done"]
    assert await snapshot(stack.engine) == before
    assert await shape(stack.engine) == structure
    assert result.rows == {name: len(rows) for name, rows in before.items()}
    # Holding far fewer contributors than there are: they are written as the rebuild goes,
    # and those met again are loaded back from the staged tables and written again.
    small = await rebuild(stack.settings, batch=10, cache=5, processes=1)
    assert (small.generation, small.processes) == (2, 1)
    assert await snapshot(stack.engine) == before
    # Another rebuild while the registry keeps writing: the live consumer picks up after it.
    async with stack.registry.client() as http:
        rebuilt = asyncio.Event()
        writing = asyncio.create_task(_offboard_until(RegistryClient(http), script.ids, rebuilt))
        second = await rebuild(stack.settings)
        rebuilt.set()
        assert await writing > 0
    assert second.generation == 3
    await caught_up(stack)
    history = await streams(stack)
    now = datetime.now(UTC)
    async with stack.reporting.client("reports:read") as reports:
        lines = await items(reports, "/v1/reports/composition", at=now.isoformat())
    assert counted(lines, *DIMENSIONS) == expected.composition(history, now)


async def test_a_rebuild_splits_partitions_only_where_topics_are_partitioned_alike(
    real_stack: Stack,
) -> None:
    settings = real_stack.settings
    assert await _splits(settings, 2) == [[0, 2, 4], [1, 3, 5]]
    assert await _splits(settings, 4) == [[0, 4], [1, 5], [2], [3]]
    assert await _splits(settings, 8) == [[n] for n in range(6)]
    assert await _splits(settings, 1) == [None]
    # Decisions on 3 partitions, events on 6: a contributor's two halves would sit in
    # partitions of different numbers, so one process reads everything.
    assert settings.kafka_bootstrap_servers is not None
    async with fresh_topic(settings.kafka_bootstrap_servers, partitions=3) as policy:
        otherwise = settings.model_copy(
            update={"topics": settings.topics.model_copy(update={"policy": policy})}
        )
        assert await _splits(otherwise, 2) == [None]


async def _offboard_until(api: RegistryClient, ids: list[str], stop: asyncio.Event) -> int:
    done = 0
    for cid in ids:
        if stop.is_set():
            break
        if (await api.get(cid))["lifecycle"] in ("active", "suspended", "onboarding"):
            await api.do(cid, "/offboarding", {"reason": "engagement_completed"})
            done += 1
        await asyncio.sleep(0.05)
    return done


async def test_two_instances_split_the_partitions_and_agree(
    real_stack: Stack, real_script: Script
) -> None:
    # The real stack only: two members of one Kafka consumer group; an embedded app is one.
    live = await snapshot(real_stack.engine)
    gate = asyncio.Event()
    async with instances(real_stack.settings, 2, gate) as (engine, pair):

        async def split() -> bool:
            owned = [set((await c.lag()).keys()) for c in pair]
            return all(owned) and not owned[0] & owned[1] and len(owned[0] | owned[1]) == 12

        async def done() -> bool:
            lags = [await c.lag() for c in pair]
            return await split() and not any(v for lag in lags for v in lag.values())

        await eventually(split, 30, "both instances to own partitions")
        gate.set()

        started = time.monotonic()
        await eventually(done, 30, "both instances to catch up")
        assert all(c.stats.processed > 0 for c in pair), [c.stats for c in pair]
        assert await snapshot(engine) == live, f"after {time.monotonic() - started:.1f}s"


async def test_an_idle_live_consumer_notices_a_swap(real_stack: Stack, real_script: Script) -> None:
    # A rebuild stops reading before it swaps; what a live consumer applies in between goes
    # with the old tables, and the swap moves the stored offsets back. When nothing more
    # arrives, the consumer must notice the swap all the same and read those events again.
    # Here the swap is of a rebuild that read nothing at all.
    gate = asyncio.Event()
    gate.set()
    async with instances(real_stack.settings, 1, gate) as (engine, [live]):

        async def caught_up() -> bool:
            lag = await live.lag()
            return bool(lag) and not any(lag.values())

        await eventually(caught_up, 30, "the consumer to catch up")
        applied = await snapshot(engine)
        async with engine.begin() as conn:
            generation = await generations.enter_swap(conn) + 1
            for table in PROJECTED:
                await conn.execute(table.delete())
            for table in (checkpoints, consumed_streams):
                await conn.execute(table.delete().where(table.c.consumer == CONSUMER))
            await conn.execute(
                rebuilds.insert().values(
                    generation=generation, swapped_at=datetime.now(UTC), events=0
                )
            )
        await eventually(caught_up, 30, "the consumer to notice the swap and read again")
        assert await snapshot(engine) == applied


async def test_wfe_rebuild_in_two_processes_swaps_in_the_live_rows(
    real_stack: Stack, real_script: Script, tmp_path: Path
) -> None:
    # The command as an operator runs it: its processes are spawned from the `wfe` script.
    await caught_up(real_stack)
    live = await snapshot(real_stack.engine)
    settings = real_stack.settings
    assert settings.database_url is not None
    assert settings.kafka_bootstrap_servers is not None
    env = {
        "WFE_DATABASE_URL": settings.database_url,
        "WFE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "WFE_TOPIC_REGISTRY": settings.topics.registry,
        "WFE_TOPIC_POLICY": settings.topics.policy,
        "WFE_TOPIC_DEADLETTER": settings.topics.deadletter,
    }
    done = await asyncio.to_thread(
        wfe, "rebuild", "--processes", "2", cwd=tmp_path, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "2 processes)" in done.stdout, done.stdout
    assert await snapshot(real_stack.engine) == live
