"""The effective axis: a contributor's events folded in the order they took effect.

The fold is the registry's own (`as_of_effective`: registration first, then by effective
time and stream version), so "who was active on 1 March" means the same thing here as in
the registry. Each step remembers the state right after one event, which is all the
effective-dated rows need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.registry.domain.contributor import apply
from services.registry.domain.events import (
    Activated,
    Offboarded,
    OnboardingStarted,
    Reengaged,
    Registered,
    Reinstated,
    Suspended,
    TypeConverted,
)
from services.registry.domain.events_lifecycle import PREFIX
from services.registry.domain.state import Contributor
from services.reporting.projections.facts import RegistryFact

_LIFECYCLE = (
    OnboardingStarted,
    Activated,
    Suspended,
    Reinstated,
    Offboarded,
    Reengaged,
    TypeConverted,
)


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    """When the event took effect, but never before the registration did."""
    fact: RegistryFact
    state: Contributor
    """The state right after the event."""

    @property
    def kind(self) -> str:
        """`org.workforce.contributor.activated.v1` -> `activated`."""
        return self.fact.payload.TYPE.removeprefix(PREFIX).rsplit(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Interval:
    valid_from: datetime
    valid_to: datetime | None
    lifecycle_state: str
    contributor_type: str
    business_unit: str
    owning_function: str


@dataclass(frozen=True, slots=True)
class Spell:
    started_sequence: int
    started_by: str
    started_at: datetime
    ended_at: datetime | None
    ended_by: str | None
    contributor_type: str


def effective_steps(facts: Sequence[RegistryFact]) -> list[Step]:
    """Empty until the registration is known: before it there is no contributor."""
    registration = next((f for f in facts if isinstance(f.payload, Registered)), None)
    if registration is None:
        return []
    rest = sorted((f for f in facts if f is not registration), key=_effective_order)
    return _fold(
        registration,
        [Step(registration.effective_time, registration, apply(None, registration.payload))],
        rest,
    )


def _fold(
    registration: RegistryFact, steps: list[Step], facts: Sequence[RegistryFact]
) -> list[Step]:
    """`steps` followed by a step for each of `facts`, in the order given."""
    state = steps[-1].state
    for fact in facts:
        state = apply(state, fact.payload)
        steps.append(Step(max(fact.effective_time, registration.effective_time), fact, state))
    return steps


def _effective_order(fact: RegistryFact) -> tuple[datetime, int]:
    return (fact.effective_time, fact.sequence)


def intervals(steps: Sequence[Step]) -> list[Interval]:
    """Half-open intervals; events that take effect at one instant make one change."""
    points: list[tuple[datetime, tuple[str, str, str, str]]] = []
    for step in steps:
        snapshot = _snapshot(step.state)
        if points and points[-1][0] == step.at:
            points[-1] = (step.at, snapshot)
        else:
            points.append((step.at, snapshot))
    merged = [p for i, p in enumerate(points) if i == 0 or points[i - 1][1] != p[1]]
    return [
        Interval(at, merged[i + 1][0] if i + 1 < len(merged) else None, *snapshot)
        for i, (at, snapshot) in enumerate(merged)
    ]


def lifecycle_steps(steps: Sequence[Step]) -> list[Step]:
    return [step for step in steps if isinstance(step.fact.payload, _LIFECYCLE)]


def onboarding_spells(steps: Sequence[Step]) -> list[Spell]:
    spells: list[Spell] = []
    opened: Step | None = None
    previous: str | None = None
    for step in steps:
        current = step.state.lifecycle
        if current == "onboarding" and previous != "onboarding":
            opened = step
        elif previous == "onboarding" and current != "onboarding" and opened is not None:
            spells.append(_spell(opened, step, step.state.contributor_type))
            opened = None
        previous = current
    if opened is not None:
        spells.append(_spell(opened, None, steps[-1].state.contributor_type))
    return spells


def types_at_first_sight(steps: Sequence[Step]) -> dict[str, str]:
    """Engagement id -> the contributor's type when the engagement first took effect."""
    seen: dict[str, str] = {}
    for step in steps:
        for engagement_id in step.state.engagements:
            seen.setdefault(engagement_id, step.state.contributor_type)
    return seen


def _spell(opened: Step, closed: Step | None, contributor_type: str) -> Spell:
    return Spell(
        opened.fact.sequence,
        opened.kind,
        opened.at,
        None if closed is None else closed.at,
        None if closed is None else closed.kind,
        contributor_type,
    )


def _snapshot(s: Contributor) -> tuple[str, str, str, str]:
    # The registration sets both and no event clears them.
    assert s.business_unit is not None
    assert s.owning_function is not None
    return (s.lifecycle, s.contributor_type, s.business_unit, s.owning_function)
