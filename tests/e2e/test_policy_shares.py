"""A publication's re-evaluation shared among processes (`services/policy/shares.py`), on
PostgreSQL: the slices cover every contributor once and each is taken once, the processes
together decide exactly what one process decides, and what a failed process left is
finished by the publishing one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.policy.domain.document import DEFAULT_POLICY
from services.policy.engine import POLICY_STREAM, PolicyEngine, RegistryFact
from services.policy.shares import ALONE, SLICES, IdRange, Sharing, Slices, Split, split
from services.registry.domain.types import ContributorTypes
from shared.eventstore.store import event_store_for
from tests.databases import fresh_database
from tests.e2e.policy_support import Clock, registered_with_grant

TYPES = set(ContributorTypes.defaults().names)


@pytest.fixture
def clock() -> Clock:
    return Clock()


STALE = sorted(f"c-{n:03d}" for n in range(90))


def _members(span: IdRange, ids: Sequence[str]) -> list[str]:
    return [i for i in ids if i > span.after and (span.through is None or i <= span.through)]


async def test_the_slices_split_the_stale_contributors_and_cover_every_one_once(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    """90 contributors evaluated under another policy, 45 already under the one in force
    (`h`), interleaved: the slices split the 90 evenly, about a chunk each and at least one
    per process, and, between them, cover every id."""
    stale = STALE
    current = sorted(f"c-{n:03d}+" for n in range(0, 90, 2))
    async with fresh_database("postgres", postgres_admin_url, tmp_path, "policy@head") as fresh:
        insert = sa.text(
            "INSERT INTO contributor_policy"
            " (contributor_id, view, evaluation, stream_version, updated_at)"
            " SELECT id, '{}', CAST(:evaluation AS jsonb), 1, now()"
            " FROM unnest(CAST(:ids AS text[])) AS id"
        )
        async with fresh.engine.begin() as conn:
            await conn.execute(insert, {"ids": stale, "evaluation": '{"policy_hash": "old"}'})
            await conn.execute(insert, {"ids": current, "evaluation": '{"policy_hash": "h"}'})

        def sharing(processes: int, minimum: int) -> Sharing:
            return Sharing(fresh.url, fresh.schema, processes, minimum)

        chunks = await split(fresh.engine, sharing(3, 10), "h", chunk=10)
        three = await split(fresh.engine, sharing(3, 10), "h", chunk=2000)
        two = await split(fresh.engine, sharing(3, 40), "h", chunk=2000)  # 90 // 40
        fine = await split(fresh.engine, sharing(2, 1), "h", chunk=1)
        alone = await split(fresh.engine, sharing(3, 100), "h", chunk=10)
        unshared = await split(fresh.engine, None, "h", chunk=10)
        async with fresh.engine.begin() as conn:
            await conn.execute(
                sa.text('UPDATE contributor_policy SET evaluation = \'{"policy_hash": "h"}\'')
            )
        up_to_date = await split(fresh.engine, sharing(3, 10), "h", chunk=10)
        async with fresh.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    'UPDATE contributor_policy SET evaluation = \'{"policy_hash": "old"}\''
                    " WHERE contributor_id < 'c-020'"
                )
            )
        few = await split(fresh.engine, sharing(2, 1), "h", chunk=1)
    everyone = sorted(stale + current)
    assert chunks.processes == 3
    # Picked among the 64 finest cuts: about as many each, here within a contributor.
    assert _about(chunks, 10) == [True] * 9
    assert _about(three, 30) == [True] * 3
    assert _about(two, 45) == [True] * 2
    assert len(fine.spans) == SLICES
    # 30 stale (c-000 to c-019 and c-000+ to c-018+) cut 64 times: cuts repeat, but no
    # slice is empty, but the open-ended last one (past the last stale id, here).
    assert 1 < len(few.spans) <= 30
    assert all(_members(span, everyone[:30]) for span in few.spans[:-1])
    for found in (chunks, three, two, fine, few):
        assert found.spans[0].after == ""
        assert found.spans[-1].through is None
        assert sorted(i for span in found.spans for i in _members(span, everyone)) == everyone
    assert alone == unshared == up_to_date == ALONE


def _about(split: Split, each: int) -> list[bool]:
    return [abs(len(_members(span, STALE)) - each) <= 1 for span in split.spans]


def test_each_slice_is_taken_once() -> None:
    spans = (IdRange("", "b"), IdRange("b", "d"), IdRange("d", None))
    slices = Slices(spans)
    taken = [slices.claim() for _ in range(5)]
    assert taken == [*spans, None, None]


async def test_sqlite_re_evaluates_in_one_process(tmp_path: Path) -> None:
    async with fresh_database("sqlite", "", tmp_path, "policy@head") as fresh:
        found = await split(fresh.engine, Sharing(fresh.url, fresh.schema, 4, 1), "h", 1)
    assert found == ALONE


def _facts(today: Any) -> list[RegistryFact]:
    types = sorted(TYPES)
    return [
        fact
        for n in range(60)
        for fact in registered_with_grant(f"c-{n:03d}", today, types[n % len(types)])
    ]


def _lowered() -> dict[str, Any]:
    document = DEFAULT_POLICY.model_dump(mode="json")
    for rules in document["types"].values():
        rules["access"]["ceiling"] = "public"
    return document


async def _published(engine: AsyncEngine, policy: PolicyEngine, clock: Clock) -> dict[str, Any]:
    """Folds the facts, publishes the lowered ceilings; what the publication left."""
    async with engine.begin() as conn:
        await policy.on_registry_events(conn, _facts(clock.today), {"actor": "test"})
        before = await conn.scalar(sa.text("SELECT max(position) FROM events"))
    published, emitted = await policy.publish(engine, _lowered(), "test", "lower ceilings")
    async with engine.connect() as conn:
        decided = (
            await conn.execute(
                sa.text(
                    "SELECT stream_id, version, type, CAST(data AS text) FROM events"
                    " WHERE position > :before AND stream_id <> :policy"
                    " ORDER BY stream_id, version"
                ),
                {"before": before, "policy": POLICY_STREAM},
            )
        ).all()
        evaluations = (
            await conn.execute(
                sa.text(
                    "SELECT contributor_id, CAST(evaluation AS text) FROM contributor_policy"
                    " ORDER BY contributor_id"
                )
            )
        ).all()
        timers = (
            await conn.execute(
                sa.text(
                    "SELECT contributor_id, due, kind, subject_ref FROM timers ORDER BY 1, 2, 3, 4"
                )
            )
        ).all()
    return {
        "hash": published.content_hash,
        "emitted": emitted,
        "decided": [tuple(row) for row in decided],
        "evaluations": [tuple(row) for row in evaluations],
        "timers": [tuple(row) for row in timers],
    }


async def _run(
    postgres_admin_url: str, tmp_path: Path, clock: Clock, processes: int, url: str | None = None
) -> dict[str, Any]:
    async with fresh_database("postgres", postgres_admin_url, tmp_path, "policy@head") as fresh:
        sharing = Sharing(url or fresh.url, fresh.schema, processes, minimum=1)
        policy = PolicyEngine(event_store_for("postgresql"), TYPES, clock, sharing=sharing)
        return await _published(fresh.engine, policy, clock)


async def test_processes_sharing_a_publication_decide_what_one_process_decides(
    postgres_admin_url: str, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="services.policy.engine"):
        shared = await _run(postgres_admin_url, tmp_path, clock, processes=3)
    alone = await _run(postgres_admin_url, tmp_path, clock, processes=1)
    assert not [r for r in caplog.records if "publication process failed" in r.message]
    assert shared["emitted"] == alone["emitted"] == len(alone["decided"]) > 0
    assert shared == alone
    assert all(f'"policy_hash": "{alone["hash"]}"' in text for _, text in alone["evaluations"])


async def test_what_a_failed_process_left_is_finished_by_the_publishing_one(
    postgres_admin_url: str, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The started processes are given a database they cannot log in to."""
    unreachable = (
        make_url(postgres_admin_url)
        .set(username="nobody", password="wrong")
        .render_as_string(hide_password=False)
    )
    with caplog.at_level(logging.WARNING, logger="services.policy.engine"):
        rescued = await _run(postgres_admin_url, tmp_path, clock, 3, url=unreachable)
    alone = await _run(postgres_admin_url, tmp_path, clock, processes=1)
    failures = [r for r in caplog.records if "publication process failed" in r.message]
    assert len(failures) == 2
    assert rescued == alone
