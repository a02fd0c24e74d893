"""The registry's use case: run a command against a contributor and record what it decides.

One transaction: fold the stream, decide, append (with the version that was read, so a
concurrent change is a conflict, not a lost update), then update the list read model and the
source-reference index. Identity continuity: a registration that matches an existing
contributor by a source reference or a normalised email is refused as a probable duplicate,
naming the existing contributor — never a silent second identity.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters import readmodel
from services.registry.adapters.readmodel import (
    Identities,
    ProbableDuplicate,
    SourceReferenceTaken,
)
from services.registry.domain.commands import Register, RegistryCommand
from services.registry.domain.contributor import StoredFact, as_of_effective, fold
from services.registry.domain.decide import Decision, decide
from services.registry.domain.errors import DomainError
from services.registry.domain.events import Registered, SourceReferenceLinked, parse
from services.registry.domain.state import Contributor
from services.registry.domain.types import ContributorTypes
from services.registry.domain.values import SourceReference
from shared.eventstore.model import NO_STREAM, NewEvent, RecordedEvent
from shared.eventstore.store import EventStore, StreamAppend
from shared.telemetry import EVENTS_APPENDED


class VersionMismatch(Exception):
    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"expected version {expected}, current {current}")
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class Outcome:
    state: Contributor
    recorded: list[RecordedEvent]


@dataclass(frozen=True)
class Submission:
    """One command of a set run by `Registry.execute_many`, with what `execute` takes."""

    command: RegistryCommand
    metadata: dict[str, Any]
    expected_version: int | None = None
    event_id: Callable[[int], uuid.UUID] | None = None


REFUSALS = (DomainError, VersionMismatch, ProbableDuplicate, SourceReferenceTaken)
"""What refuses one command of a set without touching the others."""


@dataclass(frozen=True)
class Registry:
    store: EventStore
    types: ContributorTypes
    service: str = "registry"

    async def load(
        self, conn: AsyncConnection, contributor_id: str
    ) -> tuple[Contributor | None, list[RecordedEvent]]:
        stream = await self.store.read_stream(conn, contributor_id)
        return fold(parse(e.type, e.data) for e in stream), stream

    async def as_of(
        self,
        conn: AsyncConnection,
        contributor_id: str,
        *,
        recorded: datetime | None = None,
        effective: datetime | None = None,
    ) -> Contributor | None:
        """What we knew at `recorded` (a prefix of the stream), seen as of `effective`."""
        stream = await self.store.read_stream(conn, contributor_id, recorded_as_of=recorded)
        if effective is None:
            return fold(parse(e.type, e.data) for e in stream)
        facts = [
            StoredFact(e.version, e.effective_time, e.recorded_time, parse(e.type, e.data))
            for e in stream
        ]
        return as_of_effective(facts, effective)

    async def execute(
        self,
        conn: AsyncConnection,
        command: RegistryCommand,
        *,
        metadata: dict[str, Any],
        expected_version: int | None = None,
        event_id: Callable[[int], uuid.UUID] | None = None,
        now: datetime | None = None,
    ) -> Outcome:
        """Decides and records one command, raising its refusal. `event_id(i)` names the
        i-th recorded event: ingestion derives it from the posted event's source and id,
        which makes re-posting idempotent; REST callers get random ids, and idempotency
        keys instead."""
        submission = Submission(command, metadata, expected_version, event_id)
        (outcome,) = await self.execute_many(conn, [submission], now=now)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def execute_many(
        self,
        conn: AsyncConnection,
        submissions: Sequence[Submission],
        *,
        now: datetime | None = None,
    ) -> list[Outcome | Exception]:
        """Runs the commands in order, each seeing what the ones before it did, with a few
        statements for all of them: read every stream and every identity they mention,
        decide in memory, then append, update the read model and claim references once.
        A refused command (one of `REFUSALS`) is answered with its error and leaves no
        trace. A conflict with a concurrent writer raises (`WrongExpectedVersion`,
        `SourceReferenceTaken`): the caller's transaction must then roll back."""
        now = now or datetime.now(UTC)
        ids = list(dict.fromkeys(s.command.contributor_id for s in submissions))
        streams = await self.store.read_streams(conn, ids)
        states = {i: fold(parse(e.type, e.data) for e in s) for i, s in streams.items()}
        identities = await Identities.load(conn, (s.command for s in submissions))
        pending: dict[str, list[NewEvent]] = {}
        plans: list[_Plan | Exception] = []
        for submission in submissions:
            try:
                plans.append(self._plan(submission, states, identities, pending, now))
            except REFUSALS as refusal:
                plans.append(refusal)
        appends = [
            StreamAppend(i, new, streams[i][-1].version if streams[i] else NO_STREAM)
            for i, new in pending.items()
        ]
        recorded = dict(zip(pending, await self.store.append_streams(conn, appends), strict=True))
        rows = []
        for i, stored in recorded.items():
            state = states[i]
            assert state is not None  # a stream with new events has a state
            created = (streams[i] or stored)[0].recorded_time
            rows.append(readmodel.Row(state, created, stored[-1].recorded_time))
        await readmodel.save(conn, rows)
        await identities.claim(conn)
        EVENTS_APPENDED.labels(self.service).inc(sum(len(r) for r in recorded.values()))
        return [
            plan
            if isinstance(plan, Exception)
            else Outcome(plan.state, recorded.get(plan.state.id, [])[plan.first : plan.end])
            for plan in plans
        ]

    def _plan(
        self,
        submission: Submission,
        states: dict[str, Contributor | None],
        identities: Identities,
        pending: dict[str, list[NewEvent]],
        now: datetime,
    ) -> _Plan:
        """Decides one command against the in-memory states and queues its events."""
        command = submission.command
        state = states[command.contributor_id]
        current = state.version if state else NO_STREAM
        if submission.expected_version is not None and submission.expected_version != current:
            raise VersionMismatch(submission.expected_version, current)
        if isinstance(command, Register) and state is None:
            identities.refuse_duplicates(command)
        decisions = decide(state, command, now=now, types=self.types)
        if not decisions:
            assert state is not None  # only an existing contributor can be asked for a no-op
            return _Plan(state, 0, 0)
        claims = _claims(decisions)
        identities.check(command.contributor_id, claims)
        new_state = fold((d.event for d in decisions), state)
        assert new_state is not None
        identities.record(state, new_state, claims)
        states[command.contributor_id] = new_state
        queue = pending.setdefault(command.contributor_id, [])
        first = len(queue)
        queue.extend(
            NewEvent(
                event_id=submission.event_id(i) if submission.event_id else uuid.uuid4(),
                type=d.event.TYPE,
                data=d.event.model_dump(mode="json"),
                effective_time=d.effective_at,
                metadata=submission.metadata,
            )
            for i, d in enumerate(decisions)
        )
        return _Plan(new_state, first, len(queue))


@dataclass(frozen=True)
class _Plan:
    """A decided command: the state it leaves, and its slice of the stream's new events."""

    state: Contributor
    first: int
    end: int


def _claims(decisions: Sequence[Decision]) -> list[SourceReference]:
    """The source references the decided events attach to the contributor."""
    claims: list[SourceReference] = []
    for d in decisions:
        if isinstance(d.event, Registered):
            claims.extend(d.event.source_references)
        elif isinstance(d.event, SourceReferenceLinked):
            claims.append(SourceReference(system=d.event.system, external_id=d.event.external_id))
    return claims
