"""The policy service's use cases: react to registry events, publish and simulate policy
versions, fire timers, answer access checks.

Each contributor's view and last evaluation are kept, and a new evaluation emits only the
decisions that differ from the last (as events in the policy store, published through the
outbox). Rows are locked while a contributor is re-evaluated, so the consumer, a policy
publication and the timer worker never interleave on one contributor.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.policy import shares
from services.policy.adapters.tables import contributor_policy, policy_versions, timers
from services.policy.domain import schedule
from services.policy.domain.cedar import AccessAnswer, check_access
from services.policy.domain.decisions import decisions
from services.policy.domain.document import (
    DEFAULT_POLICY,
    PolicyDocument,
    PolicyInvalid,
    content_hash,
    validate_policy,
)
from services.policy.domain.evaluate import evaluate, unchanged_types
from services.policy.domain.evaluation import Evaluation, Timer
from services.policy.domain.events import DecisionEvent, PolicyPublished
from services.policy.domain.schedule import TimerKey, as_timer
from services.policy.domain.view import PolicyView, apply
from services.policy.shares import EVERYONE, IdRange, Sharing, Slices
from shared.db import create_engine, driver_connection, upsert
from shared.eventstore.model import NewEvent
from shared.eventstore.store import EventStore, PostgresEventStore, StreamAppend
from shared.eventstore.tables import events
from shared.processes import SPAWN, Children, collection_paused
from shared.telemetry import EVENTS_APPENDED

log = logging.getLogger(__name__)

VIEWS = TypeAdapter(PolicyView)
EVALUATIONS = TypeAdapter(Evaluation)
POLICY_STREAM = "policy-document"
VIEW_CACHE_SIZE = 20_000
PUBLICATION_CHUNK = 2000
"""Contributors re-evaluated per transaction after a publication: large enough that the
per-statement costs vanish, small enough that a transaction lasts a fraction of a second."""
PUBLICATION_WORKERS = 2
"""Chunks in flight at once on PostgreSQL: while one chunk's writes and commit run in the
database (another process, another core), the next chunk is evaluated here, so the two
overlap instead of taking turns. SQLite has a single writer: one there."""
SHARE_POLL_SECONDS = 0.05
"""How often the publishing process, no slice left to take, looks whether the others are
done."""
EVALUATION_BATCH = 250
"""Contributors evaluated between two yields to the event loop: evaluating a whole chunk at
once would hold the loop (requests, the other chunk's round trips) for its whole length."""


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
    evaluation: Evaluation
    timer_keys: str | None
    """The timers its evaluation scheduled, as `scheduling` writes them; None: not known."""


def scheduling(due: Sequence[TimerKey], stored: str | None) -> tuple[tuple[Timer, ...], str]:
    """The timers of `due` that are not among those `stored` (so, to insert), and `due` to
    store in their place.

    A contributor's row keeps its evaluation's timers as plain lines (due day as an ordinal,
    kind, subject: subjects are identifiers, without whitespace), not in the evaluation's
    JSON: a publication reads and writes every contributor's evaluation, which was 60%
    timers, and decoding and encoding them cost more than evaluating. Equal texts, the
    usual case, need no decoding at all."""
    lines = [f"{day} {kind} {subject}" for day, kind, subject in due]
    text = "\n".join(lines)
    if text == stored:
        return (), text
    if stored is None:
        return tuple(map(as_timer, due)), text
    known = set(stored.split("\n"))
    return tuple(as_timer(k) for k, line in zip(due, lines, strict=True) if line not in known), text


@dataclass
class _Batch:
    """Re-evaluations gathered to be written together (`PolicyEngine._write`): a few
    statements for a consumer's whole batch instead of three round trips per event. Each
    event's decisions still come from the evaluation before it and the one after."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    decided: dict[str, list[NewEvent]] = field(default_factory=dict)
    """Each contributor's decisions, in the order made."""
    latest: dict[str, _Known] = field(default_factory=dict)
    timers: dict[tuple[str, date, str, str], None] = field(default_factory=dict)
    """The timers to insert (an ordered set): each evaluation's that differ from the one's
    before it, as one evaluation at a time stored them."""

    def add(
        self,
        previous: _Known | None,
        view: PolicyView,
        evaluation: Evaluation,
        due: Sequence[TimerKey],
        metadata: Mapping[str, Any],
    ) -> _Known:
        """Records `evaluation` (scheduling `due`) after `previous`; returns it as known now."""
        found = decisions(previous.evaluation if previous else None, evaluation)
        if found:
            self.decided.setdefault(view.id, []).extend(
                NewEvent(uuid.uuid4(), d.TYPE, d.model_dump(mode="json"), self.now, dict(metadata))
                for d in found
            )
        new, keys = scheduling(due, previous.timer_keys if previous else None)
        self.timers.update(dict.fromkeys((view.id, *t) for t in new))
        known = self.latest[view.id] = _Known(view, evaluation, keys)
        return known


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A re-evaluation, reduced to what is written. The decoded view and evaluations (a few
    hundred objects per contributor) are dropped as soon as it is made: kept for a whole
    chunk, they made every pass of the cyclic garbage collector walk them all, about a
    quarter of the publication's CPU time."""

    contributor_id: str
    decisions: list[DecisionEvent]
    evaluation_json: str
    timer_keys: str
    timers: tuple[Timer, ...]
    """The timers to insert: the evaluation's that were not stored."""


@dataclass
class _Cursor:
    """Where a process's workers take their next chunk: after `after` in the slice it took
    last. Chunks are claimed under the lock, so each contributor falls in exactly one
    chunk, whatever the number of workers and processes."""

    slices: Slices
    span: IdRange | None = None
    after: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def take(self) -> IdRange | None:
        """Moves to the start of the next slice nobody took; None once none is left."""
        self.span = self.slices.claim()
        if self.span is not None:
            self.after = self.span.after
        return self.span


@dataclass(frozen=True, slots=True)
class _Share:
    """A publication's re-evaluation, as a process started to help with it gets it."""

    sharing: Sharing
    known_types: set[str]
    today: date
    chunk: int
    slices: Slices


def _catch_up_in_child(share: _Share, tally: Any) -> None:
    """Re-evaluates the slices it takes in a process of its own, adding to `tally` (shared
    with the publishing process) what each chunk recorded once it has committed."""

    def add(recorded: int) -> None:
        tally.value += recorded

    async def run() -> None:
        db = create_engine(
            share.sharing.url, schema=share.sharing.schema, pool_size=PUBLICATION_WORKERS
        )
        try:
            policy = PolicyEngine(PostgresEventStore(), share.known_types, lambda: share.today)
            await policy._catch_up_slices(db, share.chunk, share.today, share.slices, add)
        finally:
            await db.dispose()

    # A process of its own that exits when no slice is left: cyclic collection would only
    # walk, chunk after chunk, the decoded contributors that reference counting frees anyway
    # (over a tenth of its CPU). The publishing process keeps collecting, as it also serves
    # requests; what its startup built is frozen (shared/app.py).
    with collection_paused():
        asyncio.run(run())


@dataclass
class PolicyEngine:
    store: EventStore
    known_types: set[str]
    clock: Callable[[], date] = utc_today
    service: str = "policy"
    sharing: Sharing | None = None
    """Where processes started to share a publication's re-evaluation find the database;
    None: it runs in this process alone."""
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
        batch = _Batch()
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
            known[fact.contributor_id] = batch.add(
                current,
                view,
                evaluation,
                schedule.timer_keys(view, policy.document, evaluation),
                {**metadata, **fact.origin},
            )
        return await self._write(conn, batch)

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
        twice. With `sharing`, the stale contributors are cut into slices (`shares.split`),
        taken one at a time by this process and the processes started to help it; if one
        of those fails, whatever it left is finished here."""
        today = self.clock()
        async with db.connect() as conn:
            in_force = await self.in_force(conn)
        split = await shares.split(db, self.sharing, in_force.hash, chunk)
        slices = Slices(split.spans)
        if split.processes <= 1 or self.sharing is None:
            return await self._catch_up_slices(db, chunk, today, slices)
        tallies = [SPAWN.Value("q", 0) for _ in range(split.processes - 1)]
        share = _Share(self.sharing, self.known_types, today, chunk, slices)
        children = Children(
            _catch_up_in_child, [(share, tally) for tally in tallies], f"{self.service}-publication"
        )
        async with children:
            emitted = await self._catch_up_slices(db, chunk, today, slices)
            await children.wait(SHARE_POLL_SECONDS)
        failed = [code for code in children.exit_codes() if code != 0]
        for code in failed:
            log.warning(
                "a publication process failed (exit code %s): what it left is finished here", code
            )
        if failed:
            # The slices it took may have committed in part: the contributors up to date
            # are skipped, the rest re-evaluated.
            emitted += await self._catch_up_slices(db, chunk, today, Slices((EVERYONE,)))
        return emitted + sum(int(tally.value) for tally in tallies)

    async def _catch_up_slices(
        self,
        db: AsyncEngine,
        chunk: int,
        today: date,
        slices: Slices,
        tally: Callable[[int], None] = lambda _: None,
    ) -> int:
        """`catch_up` over the slices this process takes, telling `tally` what each chunk
        recorded once it has committed. On PostgreSQL, `PUBLICATION_WORKERS` chunks are in
        flight at once (each its own transaction, so they may commit out of order: a crash
        leaves stale rows behind, never half-recorded ones, and the next run finishes
        them)."""
        workers = PUBLICATION_WORKERS if db.dialect.name == "postgresql" else 1
        cursor = _Cursor(slices)
        tasks = [
            asyncio.create_task(self._catch_up_chunks(db, chunk, today, cursor, tally))
            for _ in range(workers)
        ]
        try:
            return sum(await asyncio.gather(*tasks))
        finally:
            # One worker's failure stops the others (their chunks roll back, left for the
            # next run) and is raised as it is, not wrapped in a group.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _catch_up_chunks(
        self,
        db: AsyncEngine,
        chunk: int,
        today: date,
        cursor: _Cursor,
        tally: Callable[[int], None],
    ) -> int:
        """One worker of `_catch_up_slices`: claims the next chunk, re-evaluates it, commits,
        until no contributor is left."""
        emitted = 0
        while True:
            recorded = 0
            async with db.begin() as conn:
                async with cursor.lock:
                    rows = await self._next_chunk(conn, cursor, chunk)
                    if not rows:
                        return emitted
                # Read after the rows are locked: a writer that read an older policy and
                # locked a contributor first has committed by now, and is seen stale here.
                policy = await self.in_force(conn)
                stale = [r for r in rows if r.policy_hash != policy.hash]
                if stale:
                    recorded = await self._reevaluate(conn, stale, policy, today)
            emitted += recorded
            tally(recorded)

    async def _next_chunk(
        self, conn: AsyncConnection, cursor: _Cursor, limit: int
    ) -> Sequence[Any]:
        """The cursor's next chunk, from the next slice it takes once its slice is done;
        none when every slice is taken. Called under the cursor's lock."""
        while (span := cursor.span or cursor.take()) is not None:
            rows = await self._chunk(conn, span, cursor.after, limit)
            if rows:
                cursor.after = rows[-1].contributor_id
                return rows
            cursor.span = None
        return []

    async def _chunk(
        self, conn: AsyncConnection, span: IdRange, after: str, limit: int
    ) -> Sequence[Any]:
        """The next contributors of the range after `after`, locked, with their view and
        evaluation as JSON text (decoded by pydantic straight from the text) and, from the
        evaluation, the policy hash, the contributor type and the day it was made for (so
        the ones up to date, or that the new policy cannot change, are told without
        decoding)."""
        evaluation = contributor_policy.c.evaluation
        query = (
            sa.select(
                contributor_policy.c.contributor_id,
                sa.cast(contributor_policy.c.view, sa.Text()).label("view"),
                sa.cast(evaluation, sa.Text()).label("evaluation"),
                contributor_policy.c.timer_keys,
                evaluation["policy_hash"].as_string().label("policy_hash"),
                evaluation["contributor_type"].as_string().label("contributor_type"),
                evaluation["as_of"].as_string().label("as_of"),
            )
            .where(contributor_policy.c.contributor_id > after)
            .order_by(contributor_policy.c.contributor_id)
            .limit(limit)
        )
        if span.through is not None:
            query = query.where(contributor_policy.c.contributor_id <= span.through)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return (await conn.execute(query)).all()

    async def _reevaluate(
        self, conn: AsyncConnection, rows: Sequence[Any], policy: PolicyInForce, today: date
    ) -> int:
        # An evaluation made today under rules for the type that the new policy keeps is
        # what evaluating again would give, but for the hash: it is restamped in place, and
        # only the contributors the change can affect are decoded and evaluated.
        unchanged = {
            digest: await self._unchanged_types(conn, digest, policy)
            for digest in {r.policy_hash for r in rows}
        }
        day = today.isoformat()
        same = [r.as_of == day and r.contributor_type in unchanged[r.policy_hash] for r in rows]
        restamped = [
            r.contributor_id for r, unaffected in zip(rows, same, strict=True) if unaffected
        ]
        await _restamp(conn, restamped, policy.hash)
        affected = [r for r, unaffected in zip(rows, same, strict=True) if not unaffected]
        outcomes: list[_Outcome] = []
        for start in range(0, len(affected), EVALUATION_BATCH):
            if start:
                await asyncio.sleep(0)
            outcomes += [
                _outcome(row, policy, today) for row in affected[start : start + EVALUATION_BATCH]
            ]
        return await self._record_outcomes(conn, outcomes, {"actor": "policy-publication"})

    async def _unchanged_types(
        self, conn: AsyncConnection, digest: str | None, policy: PolicyInForce
    ) -> frozenset[str]:
        """The types whose rules are the same under the policy with this hash and the one
        in force; none when that policy is not known (any more) as a valid document."""
        previous = await self._document(conn, digest) if digest is not None else None
        return unchanged_types(previous, policy.document) if previous is not None else frozenset()

    async def _document(self, conn: AsyncConnection, digest: str) -> PolicyDocument | None:
        """The valid policy document with this hash (a version's, or the default one),
        parsed once."""
        if digest in self._documents:
            return self._documents[digest]
        if digest == content_hash(DEFAULT_POLICY):
            document: PolicyDocument | None = DEFAULT_POLICY
        else:
            raw = await conn.scalar(
                sa.select(policy_versions.c.document)
                .where(policy_versions.c.content_hash == digest)
                .limit(1)
            )
            try:
                document = validate_policy(raw, self.known_types) if raw is not None else None
            except PolicyInvalid:
                document = None
        if document is not None:
            self._documents[digest] = document
        return document

    async def _record_outcomes(
        self, conn: AsyncConnection, outcomes: Sequence[_Outcome], metadata: Mapping[str, Any]
    ) -> int:
        """Writes a batch of re-evaluations whose views did not change: the decisions, one
        multi-stream append; the evaluations, one statement; the timers that are new."""
        now = datetime.now(UTC)
        deciding = [o for o in outcomes if o.decisions]
        # Read after the rows are locked, in a statement of its own: one that locked them
        # would see the streams as of its start, before the writer it waited for committed.
        versions = await _stream_versions(conn, [o.contributor_id for o in deciding])
        appends = [
            StreamAppend(
                o.contributor_id,
                [
                    NewEvent(uuid.uuid4(), d.TYPE, d.model_dump(mode="json"), now, dict(metadata))
                    for d in o.decisions
                ],
                versions.get(o.contributor_id, 0),
            )
            for o in deciding
        ]
        emitted = sum(len(r) for r in await self.store.append_streams(conn, appends))
        EVENTS_APPENDED.labels(self.service).inc(emitted)
        await _store_evaluations(conn, outcomes, now)
        await _schedule(conn, ((o.contributor_id, *t) for o in outcomes for t in o.timers))
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
        batch = _Batch()
        for entry in known.values():
            evaluation = evaluate(entry.view, policy.document, policy.hash, today)
            due_now = schedule.timer_keys(entry.view, policy.document, evaluation)
            batch.add(entry, entry.view, evaluation, due_now, {"actor": "timer"})
        await self._write(conn, batch)
        await conn.execute(
            timers.update()
            .where(
                timers.c.contributor_id == sa.bindparam("cid"),
                timers.c.due == sa.bindparam("due_on"),
                timers.c.kind == sa.bindparam("timer_kind"),
                timers.c.subject_ref == sa.bindparam("ref"),
            )
            .values(fired_at=datetime.now(UTC)),
            [
                {
                    "cid": r.contributor_id,
                    "due_on": r.due,
                    "timer_kind": r.kind,
                    "ref": r.subject_ref,
                }
                for r in due
            ],
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
            driver = await driver_connection(conn)
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

    async def pending_timers(self, conn: AsyncConnection, contributor_id: str) -> list[Timer]:
        """The days on which policy will look at the contributor again: the timers scheduled
        and not fired yet (one that a later evaluation no longer needs still fires, and finds
        nothing new)."""
        found = await conn.execute(
            sa.select(timers.c.due, timers.c.kind, timers.c.subject_ref)
            .where(timers.c.contributor_id == contributor_id, timers.c.fired_at.is_(None))
            .order_by(timers.c.due, timers.c.kind, timers.c.subject_ref)
        )
        return [Timer(row.due, row.kind, row.subject_ref) for row in found]

    async def _write(self, conn: AsyncConnection, batch: _Batch) -> int:
        """A batch's decisions in one multi-stream append, its contributors' last views and
        evaluations in one upsert, its timers in one insert; returns the decisions."""
        # Read after the rows are locked, in a statement of its own: see `_record_outcomes`.
        versions = await _stream_versions(conn, list(batch.decided))
        appends = [
            StreamAppend(contributor_id, new_events, versions.get(contributor_id, 0))
            for contributor_id, new_events in batch.decided.items()
        ]
        emitted = sum(len(r) for r in await self.store.append_streams(conn, appends))
        EVENTS_APPENDED.labels(self.service).inc(emitted)
        await upsert(
            conn,
            contributor_policy,
            [
                {
                    "contributor_id": k.view.id,
                    "view": VIEWS.dump_python(k.view, mode="json"),
                    "evaluation": EVALUATIONS.dump_python(k.evaluation, mode="json"),
                    "timer_keys": k.timer_keys,
                    "stream_version": k.view.version,
                    "updated_at": batch.now,
                }
                for k in batch.latest.values()
            ],
            ["contributor_id"],
        )
        await _schedule(conn, batch.timers)
        return emitted

    async def _load(
        self, conn: AsyncConnection, ids: set[str] | None, lock: bool = True
    ) -> dict[str, _Known]:
        query = sa.select(
            contributor_policy.c.contributor_id,
            contributor_policy.c.view,
            contributor_policy.c.evaluation,
            contributor_policy.c.timer_keys,
        )
        if ids is not None:
            query = query.where(contributor_policy.c.contributor_id.in_(ids))
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = (await conn.execute(query.order_by(contributor_policy.c.contributor_id))).all()
        return {
            row.contributor_id: _Known(
                VIEWS.validate_python(row.view),
                EVALUATIONS.validate_python(row.evaluation),
                row.timer_keys,
            )
            for row in rows
        }


def _outcome(row: Any, policy: PolicyInForce, today: date) -> _Outcome:
    """A publication chunk's row (view and evaluation as JSON text) re-evaluated."""
    view = VIEWS.validate_json(row.view)
    previous = EVALUATIONS.validate_json(row.evaluation)
    evaluation = evaluate(view, policy.document, policy.hash, today)
    due = schedule.timer_keys(view, policy.document, evaluation)
    new, keys = scheduling(due, row.timer_keys)
    return _Outcome(
        view.id,
        decisions(previous, evaluation),
        EVALUATIONS.dump_json(evaluation).decode(),
        keys,
        new,
    )


_PG_RESTAMP = sa.text(
    """
    UPDATE contributor_policy
    SET evaluation = jsonb_set(evaluation, '{policy_hash}', to_jsonb(CAST(:hash AS text))),
        updated_at = :now
    WHERE contributor_id = ANY(:ids)
    """
).bindparams(
    sa.bindparam("ids", type_=ARRAY(sa.Text())),
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
)


async def _restamp(conn: AsyncConnection, ids: Sequence[str], digest: str) -> None:
    """Records these contributors' evaluations as made under the policy with this hash."""
    if not ids:
        return
    now = datetime.now(UTC)
    if conn.dialect.name == "postgresql":
        await conn.execute(_PG_RESTAMP, {"ids": list(ids), "hash": digest, "now": now})
        return
    stamped = sa.func.json_set(contributor_policy.c.evaluation, "$.policy_hash", digest)
    await conn.execute(
        contributor_policy.update()
        .where(contributor_policy.c.contributor_id.in_(ids))
        .values(evaluation=stamped, updated_at=now)
    )


_PG_STORE_EVALUATIONS = sa.text(
    """
    UPDATE contributor_policy AS p
    SET evaluation = u.evaluation::jsonb, timer_keys = u.timer_keys, updated_at = :now
    FROM unnest(:ids, :evaluations, :timer_keys) AS u(contributor_id, evaluation, timer_keys)
    WHERE p.contributor_id = u.contributor_id
    """
).bindparams(
    sa.bindparam("ids", type_=ARRAY(sa.Text())),
    sa.bindparam("evaluations", type_=ARRAY(sa.Text())),
    sa.bindparam("timer_keys", type_=ARRAY(sa.Text())),
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
)
"""Every evaluation of a chunk in one statement (one join), rather than one UPDATE each."""


async def _store_evaluations(
    conn: AsyncConnection, outcomes: Sequence[_Outcome], now: datetime
) -> None:
    """The outcomes' evaluations (already encoded as JSON) and timers written over the stored
    ones."""
    if not outcomes:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(
            _PG_STORE_EVALUATIONS,
            {
                "ids": [o.contributor_id for o in outcomes],
                "evaluations": [o.evaluation_json for o in outcomes],
                "timer_keys": [o.timer_keys for o in outcomes],
                "now": now,
            },
        )
        return
    await conn.execute(
        contributor_policy.update()
        .where(contributor_policy.c.contributor_id == sa.bindparam("cid"))
        .values(
            evaluation=sa.bindparam("evaluation_json", type_=sa.Text()),
            timer_keys=sa.bindparam("keys"),
            updated_at=now,
        ),
        [
            {
                "cid": o.contributor_id,
                "evaluation_json": o.evaluation_json,
                "keys": o.timer_keys,
            }
            for o in outcomes
        ],
    )


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


_PG_STREAM_VERSIONS = sa.text(
    """
    SELECT s.id, (SELECT max(version) FROM events WHERE stream_id = s.id)
    FROM unnest(:ids) AS s(id)
    """
).bindparams(sa.bindparam("ids", type_=ARRAY(sa.Text())))
"""Each stream's last version by one probe of the (stream, version) index, rather than by
reading all its events; the ids as one array rather than a parameter each."""


async def _stream_versions(conn: AsyncConnection, stream_ids: Sequence[str]) -> dict[str, int]:
    """The current version of each of these (decision) streams that exists."""
    if not stream_ids:
        return {}
    if conn.dialect.name == "postgresql":
        found = await conn.execute(_PG_STREAM_VERSIONS, {"ids": list(stream_ids)})
    else:
        found = await conn.execute(
            sa.select(events.c.stream_id, sa.func.max(events.c.version))
            .where(events.c.stream_id.in_(stream_ids))
            .group_by(events.c.stream_id)
        )
    return {row[0]: int(row[1]) for row in found if row[1] is not None}
