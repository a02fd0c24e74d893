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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
from shared.eventstore.store import EventStore, StreamAppend
from shared.eventstore.tables import events
from shared.telemetry import EVENTS_APPENDED

VIEWS = TypeAdapter(PolicyView)
EVALUATIONS = TypeAdapter(Evaluation)
POLICY_STREAM = "policy-document"
VIEW_CACHE_SIZE = 20_000
PUBLICATION_CHUNK = 2000
"""Contributors re-evaluated per transaction after a publication: large enough that the
per-statement costs vanish, small enough that a transaction lasts a fraction of a second."""


def _latest(column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(column)
        .where(policy_versions.c.mode != "draft")
        .order_by(policy_versions.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


_ACCESS = sa.select(
    sa.cast(contributor_policy.c.view, sa.Text()),
    _latest(policy_versions.c.version),
    _latest(policy_versions.c.content_hash),
).where(contributor_policy.c.contributor_id == sa.bindparam("cid"))
"""A contributor's view and the policy in force (version, hash; NULL before any)."""
_ACCESS_SQL = """
    SELECT p.view::text, v.version, v.content_hash
    FROM contributor_policy p
    LEFT JOIN LATERAL (
        SELECT version, content_hash FROM policy_versions
        WHERE mode <> 'draft' ORDER BY version DESC LIMIT 1
    ) v ON true
    WHERE p.contributor_id = $1
"""
"""`_ACCESS` for asyncpg itself (PostgreSQL)."""


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
    origin: Mapping[str, Any] = field(default_factory=dict)
    """The event's correlation id and trace context, carried on by the decisions it causes."""


@dataclass(frozen=True)
class Change:
    contributor_id: str
    decisions: list[DecisionEvent]


@dataclass
class _Known:
    view: PolicyView
    evaluation: Evaluation | None


@dataclass(frozen=True, slots=True)
class _Outcome:
    view: PolicyView
    previous: Evaluation
    evaluation: Evaluation
    decisions: list[DecisionEvent]


@dataclass
class PolicyEngine:
    store: EventStore
    known_types: set[str]
    clock: Callable[[], date] = utc_today
    service: str = "policy"
    _documents: dict[str, PolicyDocument] = field(default_factory=dict)
    _views: dict[str, PolicyView] = field(default_factory=dict)

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
        """Folds each event into its contributor's view and records what changed, with
        `metadata` and the fact's origin on the decisions."""
        known = await self._load(conn, {f.contributor_id for f in facts})
        # After the locks: see `catch_up`.
        policy = await self.in_force(conn)
        today = self.clock()
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
                conn,
                view,
                current.evaluation if current else None,
                evaluation,
                {**metadata, **fact.origin},
            )
            known[fact.contributor_id] = _Known(view, evaluation)
        return emitted

    async def publish(
        self, db: AsyncEngine, raw: Mapping[str, Any], author: str, reason: str
    ) -> tuple[PolicyPublished, int]:
        """Validates and records a new version; unless it is a draft, re-evaluates every
        contributor and records only the decisions that change.

        The version (its row and its `policy_published` event) commits first, in one
        transaction: from then on it is the policy in force, for access checks, registry
        events and timers alike. The re-evaluation follows in transactions of
        `PUBLICATION_CHUNK` contributors (`catch_up`): one transaction over every
        contributor would hold back every gap-free reader of the cluster (`read_all` waits
        for the oldest open transaction) and lock every contributor for its whole length.
        Nothing is half-published all the same: each chunk is idempotent, and a publication
        a crash interrupts is finished when the service starts again."""
        document = validate_policy(raw, self.known_types)
        async with db.begin() as conn:
            published = await self.record_version(conn, document, author, reason)
        if document.mode == "draft":
            return published, 0
        return published, await self.catch_up(db)

    async def record_version(
        self, conn: AsyncConnection, document: PolicyDocument, author: str, reason: str
    ) -> PolicyPublished:
        """Publication's first step alone: the version's event and row, now in force."""
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
        return published

    async def catch_up(self, db: AsyncEngine, chunk: int = PUBLICATION_CHUNK) -> int:
        """Re-evaluates every contributor whose last evaluation was made under another
        policy than the one in force, `chunk` contributors (in id order) per transaction;
        returns the decisions recorded. A contributor already evaluated under the policy in
        force is skipped, so running it again, or on two instances at once, records nothing
        twice."""
        emitted, after = 0, ""
        while True:
            async with db.begin() as conn:
                rows = await self._chunk(conn, after, chunk)
                if not rows:
                    return emitted
                after = rows[-1].contributor_id
                # Read after the rows are locked: a writer that read an older policy and
                # locked a contributor first has committed by now, and is seen stale here.
                policy = await self.in_force(conn)
                stale = [r for r in rows if r.policy_hash != policy.hash]
                if stale:
                    emitted += await self._reevaluate(conn, stale, policy)

    async def _chunk(self, conn: AsyncConnection, after: str, limit: int) -> Sequence[Any]:
        """The next contributors after `after`, locked, with their view and evaluation as
        JSON text (decoded by pydantic straight from the text) and the policy hash of the
        evaluation (so up-to-date ones are skipped without decoding)."""
        query = (
            sa.select(
                contributor_policy.c.contributor_id,
                sa.cast(contributor_policy.c.view, sa.Text()).label("view"),
                sa.cast(contributor_policy.c.evaluation, sa.Text()).label("evaluation"),
                contributor_policy.c.evaluation["policy_hash"].as_string().label("policy_hash"),
            )
            .where(contributor_policy.c.contributor_id > after)
            .order_by(contributor_policy.c.contributor_id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return (await conn.execute(query)).all()

    async def _reevaluate(
        self, conn: AsyncConnection, rows: Sequence[Any], policy: PolicyInForce
    ) -> int:
        today = self.clock()
        outcomes: list[_Outcome] = []
        for row in rows:
            view = VIEWS.validate_json(row.view)
            previous = EVALUATIONS.validate_json(row.evaluation)
            evaluation = evaluate(view, policy.document, policy.hash, today)
            outcomes.append(_Outcome(view, previous, evaluation, decisions(previous, evaluation)))
        return await self._record_outcomes(conn, outcomes, {"actor": "policy-publication"})

    async def _record_outcomes(
        self, conn: AsyncConnection, outcomes: Sequence[_Outcome], metadata: Mapping[str, Any]
    ) -> int:
        """Writes a batch of re-evaluations whose views did not change: the decisions, one
        multi-stream append; the evaluations; the timers that are new."""
        now = datetime.now(UTC)
        deciding = [o for o in outcomes if o.decisions]
        versions = await _stream_versions(conn, [o.view.id for o in deciding])
        appends = [
            StreamAppend(
                o.view.id,
                [
                    NewEvent(uuid.uuid4(), d.TYPE, d.model_dump(mode="json"), now, dict(metadata))
                    for d in o.decisions
                ],
                versions.get(o.view.id, 0),
            )
            for o in deciding
        ]
        emitted = sum(len(r) for r in await self.store.append_streams(conn, appends))
        EVENTS_APPENDED.labels(self.service).inc(emitted)
        await conn.execute(
            contributor_policy.update()
            .where(contributor_policy.c.contributor_id == sa.bindparam("cid"))
            .values(evaluation=_json_text(conn, "evaluation_json"), updated_at=now),
            [
                {"cid": o.view.id, "evaluation_json": EVALUATIONS.dump_json(o.evaluation).decode()}
                for o in outcomes
            ],
        )
        # The previous evaluation's timers were stored with it (fired or not): only the new
        # ones need inserting.
        await _schedule(
            conn,
            (
                (o.view.id, t.due, t.kind, t.subject_ref)
                for o in outcomes
                for t in set(o.evaluation.timers).difference(o.previous.timers)
            ),
        )
        return emitted

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
        known = await self._load(conn, {row.contributor_id for row in due})
        policy = await self.in_force(conn)
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
        """One round trip: the contributor's view (as JSON text) and which policy is in
        force, read together. The policy document itself is parsed once per hash and kept,
        so a publication by another instance is seen by the very next check."""
        row = await self._access_row(conn, contributor_id)
        if row is None:
            return None
        text, version, digest = row
        document = self._documents.get(digest) if digest is not None else None
        if digest is None:
            policy = PolicyInForce(0, DEFAULT_POLICY, content_hash(DEFAULT_POLICY))
        elif document is None:
            policy = await self.in_force(conn)
        else:
            policy = PolicyInForce(version, document, digest)
        return check_access(
            self._view(text),
            policy.document,
            resource,
            classification,
            action,
            self.clock(),
            approvals,
            requested_until=requested_until,
            policy_hash=policy.hash,
        )

    async def _access_row(
        self, conn: AsyncConnection, contributor_id: str
    ) -> tuple[str, int, str | None] | None:
        if conn.dialect.name == "postgresql":
            # asyncpg directly, with its prepared-statement cache: SQLAlchemy's compile and
            # result machinery costs more than the query itself here.
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            found = await driver.fetchrow(_ACCESS_SQL, contributor_id)
        else:
            found = (await conn.execute(_ACCESS, {"cid": contributor_id})).first()
        if found is None:
            return None
        return str(found[0]), int(found[1] or 0), found[2]

    def _view(self, text: str) -> PolicyView:
        """The view decoded from its stored JSON, remembered by that text: a view changes
        only with its contributor's events, while checks about it come by the thousand."""
        view = self._views.get(text)
        if view is None:
            view = VIEWS.validate_json(text)
            if len(self._views) >= VIEW_CACHE_SIZE:
                self._views.pop(next(iter(self._views)))
            self._views[text] = view
        return view

    async def evaluation_of(self, conn: AsyncConnection, contributor_id: str) -> Evaluation | None:
        known = (await self._load(conn, {contributor_id}, lock=False)).get(contributor_id)
        return known.evaluation if known else None

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
        await _schedule(conn, ((view.id, t.due, t.kind, t.subject_ref) for t in evaluation.timers))
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


async def _schedule(conn: AsyncConnection, due: Iterable[tuple[str, date, str, str]]) -> None:
    rows = [{"contributor_id": c, "due": d, "kind": k, "subject_ref": s} for c, d, k, s in due]
    if not rows:
        return
    insert = (
        sa.dialects.postgresql.insert
        if conn.dialect.name == "postgresql"
        else sa.dialects.sqlite.insert
    )(timers)
    await conn.execute(insert.on_conflict_do_nothing(), rows)


async def _stream_versions(conn: AsyncConnection, stream_ids: Sequence[str]) -> dict[str, int]:
    """The current version of each of these (decision) streams that exists."""
    if not stream_ids:
        return {}
    query = (
        sa.select(events.c.stream_id, sa.func.max(events.c.version))
        .where(events.c.stream_id.in_(stream_ids))
        .group_by(events.c.stream_id)
    )
    return {row[0]: int(row[1]) for row in await conn.execute(query)}


def _json_text(conn: AsyncConnection, name: str) -> sa.ColumnElement[Any]:
    """A parameter carrying JSON already encoded (by pydantic, faster than the json module
    SQLAlchemy would use): cast to jsonb on PostgreSQL; SQLite keeps JSON as text."""
    text = sa.bindparam(name, type_=sa.Text())
    return sa.cast(text, JSONB) if conn.dialect.name == "postgresql" else text
