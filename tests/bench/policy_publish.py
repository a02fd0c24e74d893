"""Publishing a policy that changes many decisions: `PolicyEngine.publish` records the version,
then re-evaluates every contributor, a chunk per transaction. Beside it, on a sample of the
same contributors, the parts it is made of, each alone: reading and decoding the rows (the
same query, locks included), evaluating and diffing in memory, and writing the rows back in
bulk (one statement per thousand rows).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.policy.adapters.tables import contributor_policy
from services.policy.domain.decisions import decisions
from services.policy.domain.document import content_hash, validate_policy
from services.policy.domain.evaluate import evaluate
from services.policy.domain.evaluation import Evaluation
from services.policy.domain.schedule import timer_keys
from services.policy.domain.view import PolicyView
from services.policy.engine import EVALUATIONS, PUBLICATION_CHUNK, VIEWS, utc_today
from services.policy.shares import Sharing, split
from shared.db import upsert
from tests.bench.drivers import quiet_generator
from tests.bench.policy_seed import TYPES, lowered_ceilings, policy_engine
from tests.bench.sections import busy_seconds, cpu_with_children, machine_busy

BULK_ROWS = 1000


@dataclass(frozen=True)
class Phase:
    name: str
    contributors: int
    seconds: float
    decisions: int = 0

    @property
    def rate(self) -> float:
        return self.contributors / self.seconds if self.seconds else 0.0

    @property
    def decision_rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Publication:
    contributors: int
    seconds: float
    decisions: int
    stored: int
    """Decision events found in the store afterwards (the publication's own event aside)."""
    processes: int
    """Processes that re-evaluated (this one and those it started)."""
    python_cpu: float
    """CPU seconds of those processes."""
    machine_cpu: float
    """CPU seconds of every process of the machine (PostgreSQL's included)."""

    @property
    def decision_rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    @property
    def contributor_rate(self) -> float:
        return self.contributors / self.seconds if self.seconds else 0.0


async def _events(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.text("SELECT count(*) FROM events")) or 0)


Known = list[tuple[PolicyView, Evaluation]]


async def _read(conn: AsyncConnection, sample: int) -> tuple[Known, Phase]:
    query = (
        sa.select(
            sa.cast(contributor_policy.c.view, sa.Text()).label("view"),
            sa.cast(contributor_policy.c.evaluation, sa.Text()).label("evaluation"),
        )
        .order_by(contributor_policy.c.contributor_id)
        .limit(sample)
        .with_for_update()
    )
    began = time.perf_counter()
    known = [
        (VIEWS.validate_json(row.view), EVALUATIONS.validate_json(row.evaluation))
        for row in await conn.execute(query)
    ]
    seconds = time.perf_counter() - began
    return known, Phase("read and decode (the same query, FOR UPDATE)", len(known), seconds)


def _evaluate(known: Known) -> tuple[list[Evaluation], Phase]:
    document = validate_policy(lowered_ceilings(), set(TYPES))
    digest, today = content_hash(document), utc_today()
    began, found, evaluations = time.perf_counter(), 0, []
    for view, previous in known:
        evaluation = evaluate(view, document, digest, today)
        timer_keys(view, document, evaluation)
        found += len(decisions(previous, evaluation))
        evaluations.append(evaluation)
    seconds = time.perf_counter() - began
    phase = "evaluate, schedule and diff, in memory"
    return evaluations, Phase(phase, len(known), seconds, found)


async def _write(conn: AsyncConnection, known: Known, evaluations: list[Evaluation]) -> Phase:
    now, began = datetime.now(UTC), time.perf_counter()
    rows = [
        {
            "contributor_id": view.id,
            "view": VIEWS.dump_python(view, mode="json"),
            "evaluation": EVALUATIONS.dump_python(evaluation, mode="json"),
            "stream_version": view.version,
            "updated_at": now,
        }
        for (view, _), evaluation in zip(known, evaluations, strict=True)
    ]
    for start in range(0, len(rows), BULK_ROWS):
        await upsert(conn, contributor_policy, rows[start : start + BULK_ROWS], ["contributor_id"])
    seconds = time.perf_counter() - began
    return Phase(f"encode and upsert the rows, {BULK_ROWS:,} per statement", len(rows), seconds)


async def parts(engine: AsyncEngine, sample: int) -> list[Phase]:
    """Each part of a publication alone, on the first `sample` contributors, in a
    transaction that is rolled back."""
    async with engine.connect() as conn, conn.begin() as transaction:
        known, read = await _read(conn, sample)
        evaluations, evaluated = _evaluate(known)
        written = await _write(conn, known, evaluations)
        await transaction.rollback()
    return [read, evaluated, written]


async def publish(engine: AsyncEngine, contributors: int, sharing: Sharing) -> Publication:
    """Publishes the lowered ceilings, timed, shared among processes as the service does."""
    policy = policy_engine(sharing)
    before = await _events(engine)
    # Split as the publication will: every contributor is stale under the new version.
    new_version = content_hash(validate_policy(lowered_ceilings(), set(TYPES)))
    processes = (await split(engine, sharing, new_version, PUBLICATION_CHUNK)).processes
    # This process publishes as the service's does, which froze what its startup built
    # (shared/app.py): what the harness built is frozen likewise.
    with quiet_generator():
        machine, python = machine_busy(), cpu_with_children()
        began = time.perf_counter()
        _, emitted = await policy.publish(engine, lowered_ceilings(), "bench", "lower ceilings")
        seconds = time.perf_counter() - began
    python, busy = cpu_with_children() - python, busy_seconds(machine, machine_busy())
    stored = await _events(engine) - before - 1
    return Publication(contributors, seconds, emitted, stored, processes, python, busy)
