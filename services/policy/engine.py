"""The policy service's use cases: react to registry events, publish and simulate policy
versions, fire timers, answer access checks.

Each contributor's view and last evaluation are kept, and a new evaluation emits only the
decisions that differ from the last (as events in the policy store, published through the
outbox). Rows are locked while a contributor is re-evaluated, so the consumer, a policy
publication and the timer worker never interleave on one contributor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from services.policy.adapters.tables import contributor_policy, policy_versions, timers
from services.policy.domain.cedar import AccessAnswer, check_access
from services.policy.domain.decisions import decisions
from services.policy.domain.document import (
    DEFAULT_POLICY,
    PolicyDocument,
    content_hash,
    validate_policy,
)
from services.policy.domain.evaluate import evaluate
from services.policy.domain.evaluation import Evaluation
from services.policy.domain.events import DecisionEvent, PolicyPublished
from services.policy.domain.view import PolicyView, apply
from shared.db import upsert
from shared.eventstore.model import NewEvent, RecordedEvent
from shared.eventstore.store import EventStore
from shared.telemetry import EVENTS_APPENDED

VIEWS = TypeAdapter(PolicyView)
EVALUATIONS = TypeAdapter(Evaluation)
POLICY_STREAM = "policy-document"


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class PolicyInForce:
    version: int
    document: PolicyDocument
    hash: str


@dataclass(frozen=True)
class RegistryFact:
    contributor_id: str
    type: str
    data: Mapping[str, Any]
    effective_time: datetime
    version: int


@dataclass(frozen=True)
class Change:
    contributor_id: str
    decisions: list[DecisionEvent]


@dataclass
class _Known:
    view: PolicyView
    evaluation: Evaluation | None


@dataclass
class PolicyEngine:
    store: EventStore
    known_types: set[str]
    clock: Callable[[], date] = utc_today
    service: str = "policy"
    _documents: dict[str, PolicyDocument] = field(default_factory=dict)

    async def in_force(self, conn: AsyncConnection) -> PolicyInForce:
        """The newest version that is not a draft; the default policy before any."""
        row = (
            await conn.execute(
                sa.select(
                    policy_versions.c.version,
                    policy_versions.c.content_hash,
                    policy_versions.c.document,
                )
                .where(policy_versions.c.mode != "draft")
                .order_by(policy_versions.c.version.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return PolicyInForce(0, DEFAULT_POLICY, content_hash(DEFAULT_POLICY))
        if row.content_hash not in self._documents:
            self._documents[row.content_hash] = validate_policy(row.document, self.known_types)
        return PolicyInForce(row.version, self._documents[row.content_hash], row.content_hash)

    async def on_registry_events(
        self, conn: AsyncConnection, facts: Sequence[RegistryFact], metadata: Mapping[str, Any]
    ) -> int:
        """Folds each event into its contributor's view and records what changed."""
        policy = await self.in_force(conn)
        today = self.clock()
        known = await self._load(conn, {f.contributor_id for f in facts})
        emitted = 0
        for fact in facts:
            current = known.get(fact.contributor_id)
            view = apply(
                current.view if current else None,
                fact.type,
                fact.data,
                fact.effective_time,
                fact.version,
            )
            evaluation = evaluate(view, policy.document, policy.hash, today)
            emitted += await self._record(
                conn, view, current.evaluation if current else None, evaluation, metadata
            )
            known[fact.contributor_id] = _Known(view, evaluation)
        return emitted

    async def publish(
        self, conn: AsyncConnection, raw: Mapping[str, Any], author: str, reason: str
    ) -> tuple[PolicyPublished, int]:
        """Validates and records a new version; unless it is a draft, re-evaluates every
        contributor and records only the decisions that change. All in the caller's
        transaction: nothing is half-published."""
        document = validate_policy(raw, self.known_types)
        version = (
            int(
                await conn.scalar(
                    sa.select(sa.func.coalesce(sa.func.max(policy_versions.c.version), 0))
                )
                or 0
            )
            + 1
        )
        normalised = document.model_dump(mode="json")
        published = PolicyPublished(
            version=version,
            author=author,
            reason=reason,
            content_hash=content_hash(document),
            mode=document.mode,
            document=normalised,
        )
        now = datetime.now(UTC)
        await self.store.append(
            conn,
            POLICY_STREAM,
            [
                NewEvent(
                    uuid.uuid4(),
                    published.TYPE,
                    published.model_dump(mode="json"),
                    now,
                    {"actor": author},
                )
            ],
            None,
        )
        await conn.execute(
            policy_versions.insert().values(
                version=version,
                content_hash=published.content_hash,
                mode=document.mode,
                document=normalised,
                author=author,
                reason=reason,
                published_at=now,
            )
        )
        if document.mode == "draft":
            return published, 0
        emitted = 0
        for changes in await self._reevaluate_all(conn, document, published.content_hash):
            emitted += len(changes)
        return published, emitted

    async def simulate(
        self, conn: AsyncConnection, raw: Mapping[str, Any]
    ) -> tuple[str, list[Change]]:
        """The candidate's hash, and what enforcing it now would decide, per contributor
        whose decisions change. Nothing is written."""
        document = validate_policy(raw, self.known_types)
        digest = content_hash(document)
        today = self.clock()
        changes: list[Change] = []
        for contributor_id, known in (await self._load(conn, None, lock=False)).items():
            candidate = evaluate(known.view, document, digest, today)
            found = decisions(known.evaluation, candidate)
            if found:
                changes.append(Change(contributor_id, found))
        return digest, changes

    async def fire_due_timers(self, conn: AsyncConnection, limit: int = 500) -> int:
        """Re-evaluates the contributors whose timers are due and marks those timers fired,
        in the caller's transaction. On PostgreSQL, due rows are claimed with SKIP LOCKED,
        so several instances share the work and none fires a timer twice."""
        today = self.clock()
        query = (
            sa.select(timers.c.contributor_id, timers.c.due, timers.c.kind, timers.c.subject_ref)
            .where(timers.c.fired_at.is_(None), timers.c.due <= today)
            .order_by(timers.c.due)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        due = (await conn.execute(query)).all()
        if not due:
            return 0
        policy = await self.in_force(conn)
        known = await self._load(conn, {row.contributor_id for row in due})
        for entry in known.values():
            evaluation = evaluate(entry.view, policy.document, policy.hash, today)
            await self._record(conn, entry.view, entry.evaluation, evaluation, {"actor": "timer"})
        now = datetime.now(UTC)
        for row in due:
            await conn.execute(
                timers.update()
                .where(
                    timers.c.contributor_id == row.contributor_id,
                    timers.c.due == row.due,
                    timers.c.kind == row.kind,
                    timers.c.subject_ref == row.subject_ref,
                )
                .values(fired_at=now)
            )
        return len(due)

    async def access(
        self,
        conn: AsyncConnection,
        contributor_id: str,
        resource: str,
        classification: Any,
        action: Any,
        approvals: Sequence[str],
        requested_until: date | None,
    ) -> AccessAnswer | None:
        known = (await self._load(conn, {contributor_id}, lock=False)).get(contributor_id)
        if known is None:
            return None
        policy = await self.in_force(conn)
        return check_access(
            known.view,
            policy.document,
            resource,
            classification,
            action,
            self.clock(),
            approvals,
            requested_until=requested_until,
            policy_hash=policy.hash,
        )

    async def evaluation_of(self, conn: AsyncConnection, contributor_id: str) -> Evaluation | None:
        known = (await self._load(conn, {contributor_id}, lock=False)).get(contributor_id)
        return known.evaluation if known else None

    async def _reevaluate_all(
        self, conn: AsyncConnection, document: PolicyDocument, digest: str
    ) -> list[list[RecordedEvent]]:
        today = self.clock()
        recorded: list[list[RecordedEvent]] = []
        for known in (await self._load(conn, None)).values():
            evaluation = evaluate(known.view, document, digest, today)
            recorded.append(
                await self._append(
                    conn, known.view, known.evaluation, evaluation, {"actor": "policy-publication"}
                )
            )
        return recorded

    async def _record(
        self,
        conn: AsyncConnection,
        view: PolicyView,
        previous: Evaluation | None,
        evaluation: Evaluation,
        metadata: Mapping[str, Any],
    ) -> int:
        return len(await self._append(conn, view, previous, evaluation, metadata))

    async def _append(
        self,
        conn: AsyncConnection,
        view: PolicyView,
        previous: Evaluation | None,
        evaluation: Evaluation,
        metadata: Mapping[str, Any],
    ) -> list[RecordedEvent]:
        found = decisions(previous, evaluation)
        now = datetime.now(UTC)
        recorded: list[RecordedEvent] = []
        if found:
            new_events = [
                NewEvent(uuid.uuid4(), d.TYPE, d.model_dump(mode="json"), now, dict(metadata))
                for d in found
            ]
            recorded = await self.store.append(conn, view.id, new_events, None)
            EVENTS_APPENDED.labels(self.service).inc(len(recorded))
        await upsert(
            conn,
            contributor_policy,
            [
                {
                    "contributor_id": view.id,
                    "view": VIEWS.dump_python(view, mode="json"),
                    "evaluation": EVALUATIONS.dump_python(evaluation, mode="json"),
                    "stream_version": view.version,
                    "updated_at": now,
                }
            ],
            ["contributor_id"],
        )
        await _schedule(conn, view.id, ((t.due, t.kind, t.subject_ref) for t in evaluation.timers))
        return recorded

    async def _load(
        self, conn: AsyncConnection, ids: set[str] | None, lock: bool = True
    ) -> dict[str, _Known]:
        query = sa.select(
            contributor_policy.c.contributor_id,
            contributor_policy.c.view,
            contributor_policy.c.evaluation,
        )
        if ids is not None:
            query = query.where(contributor_policy.c.contributor_id.in_(ids))
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = (await conn.execute(query.order_by(contributor_policy.c.contributor_id))).all()
        return {
            row.contributor_id: _Known(
                VIEWS.validate_python(row.view), EVALUATIONS.validate_python(row.evaluation)
            )
            for row in rows
        }


async def _schedule(
    conn: AsyncConnection, contributor_id: str, due: Iterable[tuple[date, str, str]]
) -> None:
    rows = [
        {"contributor_id": contributor_id, "due": d, "kind": k, "subject_ref": s} for d, k, s in due
    ]
    if not rows:
        return
    insert = (
        sa.dialects.postgresql.insert
        if conn.dialect.name == "postgresql"
        else sa.dialects.sqlite.insert
    )(timers)
    await conn.execute(insert.on_conflict_do_nothing(), rows)
