"""The registry's use case: run a command against a contributor and record what it decides.

One transaction: fold the stream, decide, append (with the version that was read, so a
concurrent change is a conflict, not a lost update), then update the list read model and the
source-reference index. Identity continuity: a registration that matches an existing
contributor by a source reference or a normalised email is refused as a probable duplicate,
naming the existing contributor — never a silent second identity.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters import readmodel
from services.registry.domain.commands import Register, RegistryCommand
from services.registry.domain.contributor import StoredFact, as_of_effective, fold
from services.registry.domain.decide import decide
from services.registry.domain.events import Registered, SourceReferenceLinked, parse
from services.registry.domain.state import Contributor
from services.registry.domain.types import ContributorTypes
from services.registry.domain.values import SourceReference
from shared.eventstore.model import NO_STREAM, NewEvent, RecordedEvent
from shared.eventstore.store import EventStore
from shared.telemetry import EVENTS_APPENDED


class ProbableDuplicate(Exception):
    def __init__(self, existing_id: str, matched_on: str) -> None:
        super().__init__(f"probable duplicate of {existing_id} (same {matched_on})")
        self.existing_id = existing_id
        self.matched_on = matched_on


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
        """Decides and records. `event_id(i)` names the i-th recorded event: ingestion
        derives it from the posted event's source and id, which makes re-posting idempotent;
        REST callers get random ids, and idempotency keys instead."""
        now = now or datetime.now(UTC)
        state, stream = await self.load(conn, command.contributor_id)
        current = state.version if state else NO_STREAM
        if expected_version is not None and expected_version != current:
            raise VersionMismatch(expected_version, current)
        if isinstance(command, Register) and state is None:
            await self._refuse_duplicates(conn, command)
        decisions = decide(state, command, now=now, types=self.types)
        if not decisions:
            assert state is not None  # only an existing contributor can be asked for a no-op
            return Outcome(state, [])
        new_events = [
            NewEvent(
                event_id=event_id(i) if event_id else uuid.uuid4(),
                type=d.event.TYPE,
                data=d.event.model_dump(mode="json"),
                effective_time=d.effective_at,
                metadata=metadata,
            )
            for i, d in enumerate(decisions)
        ]
        recorded = await self.store.append(conn, command.contributor_id, new_events, current)
        new_state = fold((d.event for d in decisions), state)
        assert new_state is not None
        created_at = stream[0].recorded_time if stream else recorded[0].recorded_time
        await readmodel.save(conn, new_state, created_at, recorded[-1].recorded_time)
        for d in decisions:
            if isinstance(d.event, Registered):
                await readmodel.claim(conn, new_state.id, d.event.source_references)
            elif isinstance(d.event, SourceReferenceLinked):
                reference = SourceReference(system=d.event.system, external_id=d.event.external_id)
                await readmodel.claim(conn, new_state.id, [reference])
        EVENTS_APPENDED.labels(self.service).inc(len(recorded))
        return Outcome(new_state, recorded)

    async def _refuse_duplicates(self, conn: AsyncConnection, command: Register) -> None:
        for reference in command.source_references:
            owner = await readmodel.owner_of(conn, reference)
            if owner is not None:
                raise ProbableDuplicate(owner, f"{reference.system} reference")
        if command.email:
            owner = await readmodel.with_email(conn, command.email)
            if owner is not None:
                raise ProbableDuplicate(owner, "email")
