"""A contributor's facts: every registry event and policy decision reporting has seen.

This is the projection's only state. Every row about a contributor is recomputed from it,
which is what makes back-dated events work: an event effective ten days ago is folded into
its place and the rows it changes come out of the recomputation. The facts are a *set*
(registry events keyed by stream version, decisions by event id), so neither duplicates nor
the interleaving of the two topics can change the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic_core import to_json

from services.registry.domain.events import RegistryEvent, parse
from services.reporting.projections.model import (
    POLICY_DECISIONS,
    POLICY_PREFIX,
    REGISTRY_PREFIX,
    ConflictingEvent,
    PolicyDecision,
    ProjectedEvent,
)


@dataclass(frozen=True, slots=True)
class RegistryFact:
    event_id: str
    sequence: int
    source: str
    effective_time: datetime
    recorded_time: datetime
    payload: RegistryEvent
    entry: dict[str, Any] = field(init=False, compare=False, repr=False)
    """This fact in the `history` column, made once: a contributor's whole history is written
    again by every batch that touches them. Shared by every row it goes into; never changed."""
    entry_json: str = field(init=False, compare=False, repr=False)
    """`entry` as JSON, for the same reason."""

    def __post_init__(self) -> None:
        _set_entry(
            self,
            {
                "id": self.event_id,
                "sequence": self.sequence,
                "source": self.source,
                "effective": self.effective_time.isoformat(),
                "recorded": self.recorded_time.isoformat(),
                "type": self.payload.TYPE,
                "data": self.payload.model_dump(mode="json"),
            },
        )


@dataclass(frozen=True, slots=True)
class PolicyFact:
    event_id: str
    effective_time: datetime
    recorded_time: datetime
    decision: PolicyDecision
    entry: dict[str, Any] = field(init=False, compare=False, repr=False)
    """As `RegistryFact.entry`."""
    entry_json: str = field(init=False, compare=False, repr=False)
    """As `RegistryFact.entry_json`."""

    def __post_init__(self) -> None:
        _set_entry(
            self,
            {
                "id": self.event_id,
                "effective": self.effective_time.isoformat(),
                "recorded": self.recorded_time.isoformat(),
                "type": self.decision.TYPE,
                "data": self.decision.model_dump(mode="json"),
            },
        )

    @property
    def order(self) -> tuple[datetime, datetime, str]:
        """Decisions take effect in this order, whatever order the topic delivered them in."""
        return (self.effective_time, self.recorded_time, self.event_id)


Fact = RegistryFact | PolicyFact


def _set_entry(fact: Fact, entry: dict[str, Any]) -> None:
    object.__setattr__(fact, "entry", entry)
    # pydantic's encoder: several times faster than `json`'s, for the same JSON.
    object.__setattr__(fact, "entry_json", to_json(entry).decode())


class History(dict[str, list[dict[str, Any]]]):
    """The `history` column's value, which also knows its JSON: spliced from the facts' own,
    it costs a join, where encoding the whole history again for every write cost more than
    deriving the contributor's rows did."""

    __slots__ = ("json",)

    def __init__(self, registry: Sequence[RegistryFact], policy: Sequence[PolicyFact]) -> None:
        super().__init__(registry=[f.entry for f in registry], policy=[f.entry for f in policy])
        self.json = (
            f'{{"registry":[{",".join(f.entry_json for f in registry)}],'
            f'"policy":[{",".join(f.entry_json for f in policy)}]}}'
        )


def read_event(event: ProjectedEvent) -> Fact | None:
    """The fact an event states, or None for a type reporting does not use.

    An unknown *registry* type raises (the consumer dead-letters it): ignoring it would make
    the live rows differ from a rebuild done after reporting learns the type.
    """
    if event.type.startswith(REGISTRY_PREFIX):
        if event.sequence is None:
            raise ValueError(f"registry event {event.event_id} has no sequence")
        return RegistryFact(
            event.event_id,
            event.sequence,
            event.source,
            event.effective_time,
            event.recorded_time,
            parse(event.type, event.data) if event.payload is None else event.payload,
        )
    decision_type = (
        POLICY_DECISIONS.get(event.type) if event.type.startswith(POLICY_PREFIX) else None
    )
    if decision_type is None:
        return None
    decision = decision_type.model_validate(dict(event.data))
    return PolicyFact(event.event_id, event.effective_time, event.recorded_time, decision)


@dataclass(frozen=True, slots=True)
class ContributorFacts:
    contributor_id: str
    registry: tuple[RegistryFact, ...] = ()
    """In stream order (sequence)."""
    policy: tuple[PolicyFact, ...] = ()
    """In decision order (`PolicyFact.order`)."""

    def with_fact(self, fact: Fact) -> ContributorFacts:
        """These facts plus `fact`; `self` itself when the fact is already known.

        Built directly rather than with `dataclasses.replace`, which costs several times
        more and runs once per event; facts mostly arrive in order, so they are appended
        and sorted only when they do not."""
        if isinstance(fact, PolicyFact):
            if any(known.event_id == fact.event_id for known in self.policy):
                return self
            policy = (*self.policy, fact)
            if len(policy) > 1 and fact.order < policy[-2].order:
                policy = tuple(sorted(policy, key=_policy_order))
            return ContributorFacts(self.contributor_id, self.registry, policy)
        for known in self.registry:
            if known.sequence == fact.sequence:
                if known.event_id != fact.event_id:
                    raise ConflictingEvent(
                        f"{self.contributor_id} v{fact.sequence}: event {fact.event_id} "
                        f"but {known.event_id} was seen first"
                    )
                return self
        registry = (*self.registry, fact)
        if len(registry) > 1 and fact.sequence < registry[-2].sequence:
            registry = tuple(sorted(registry, key=_sequence))
        return ContributorFacts(self.contributor_id, registry, self.policy)

    def known_at(self, recorded: datetime) -> ContributorFacts:
        """The facts as they had been recorded by `recorded`: derive rows from these to
        answer "what did we know then?" (the rows themselves say what is known now)."""
        return replace(
            self,
            registry=tuple(f for f in self.registry if f.recorded_time <= recorded),
            policy=tuple(f for f in self.policy if f.recorded_time <= recorded),
        )

    def to_history(self) -> History:
        """The JSON the `history` column stores."""
        return History(self.registry, self.policy)

    @classmethod
    def from_history(cls, contributor_id: str, history: Mapping[str, Any]) -> ContributorFacts:
        registry = tuple(
            RegistryFact(
                e["id"],
                e["sequence"],
                e["source"],
                datetime.fromisoformat(e["effective"]),
                datetime.fromisoformat(e["recorded"]),
                parse(e["type"], e["data"]),
            )
            for e in history["registry"]
        )
        policy = tuple(
            PolicyFact(
                e["id"],
                datetime.fromisoformat(e["effective"]),
                datetime.fromisoformat(e["recorded"]),
                POLICY_DECISIONS[e["type"]].model_validate(e["data"]),
            )
            for e in history["policy"]
        )
        return cls(contributor_id, registry, policy)


def _sequence(fact: RegistryFact) -> int:
    return fact.sequence


def _policy_order(fact: PolicyFact) -> tuple[datetime, datetime, str]:
    return fact.order
