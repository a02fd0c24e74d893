"""Any sequence of commands, valid or not, run through decide + apply keeps the invariants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.domain.commands import ConvertType, RegistryCommand
from services.registry.domain.contributor import StoredFact, apply, as_of_effective, fold
from services.registry.domain.decide import decide
from services.registry.domain.errors import DomainError
from services.registry.domain.events import parse
from services.registry.domain.state import Contributor, TypeChange
from services.registry.domain.values import LIFECYCLE_STATES

from . import strategies as s
from .support import TYPES

FOREVER = datetime.max.replace(tzinfo=UTC)
QUICK = settings(max_examples=200, deadline=None)

Step = tuple[RegistryCommand, timedelta, timedelta | None]


@dataclass
class Run:
    state: Contributor | None = None
    facts: list[StoredFact] = field(default_factory=list)
    conversions: list[TypeChange] = field(default_factory=list)


def play(first: RegistryCommand, steps: list[Step]) -> Run:
    """Decide and apply each command, checking what must hold after every accepted one."""
    run = Run()
    now = s.START
    for command, step, back in [(first, timedelta(0), None), *steps]:
        now += step
        if back is not None:
            command = command.model_copy(update={"effective_at": now - back})
        try:
            decisions = decide(run.state, command, now=now, types=TYPES)
        except DomainError:
            continue
        assert decide(run.state, command, now=now, types=TYPES) == decisions
        before = run.state
        for decision in decisions:
            run.state = apply(run.state, decision.event)
            run.facts.append(
                StoredFact(len(run.facts) + 1, decision.effective_at, now, decision.event)
            )
            assert run.state.version == len(run.facts)
        if isinstance(command, ConvertType):
            assert before is not None
            assert run.state is not None
            run.conversions.append(TypeChange(before.contributor_type, command.to_type))
        if run.state is not None:
            check_invariants(run.state)
    return run


def check_invariants(state: Contributor) -> None:
    assert state.registered
    assert state.lifecycle in LIFECYCLE_STATES
    assert state.contributor_type in TYPES
    if state.grants:
        assert state.lifecycle in ("onboarding", "active", "suspended")
    if state.lifecycle == "offboarded":
        assert not state.open_engagements
    for k in state.contracts.values():
        assert k.end is None or k.start <= k.end
    for e in state.engagements.values():
        assert e.end is None or e.start <= e.end
        assert e.contract_id is None or e.contract_id in state.contracts
    if TYPES.kind(state.contributor_type) != "person":
        assert not state.dei_programs
        assert state.self_identification is None


def check_history(run: Run) -> None:
    assert run.state is not None
    assert [f.version for f in run.facts] == list(range(1, len(run.facts) + 1))
    assert run.state.type_history == tuple(run.conversions)
    assert fold(f.payload for f in run.facts) == run.state
    for f in run.facts:
        assert parse(f.payload.TYPE, f.payload.model_dump(mode="json")) == f.payload


@QUICK
@given(
    first=s.register(),
    steps=st.lists(st.tuples(s.commands, s.steps_apart, st.none()), min_size=10, max_size=40),
)
def test_invariants_hold_and_both_folds_agree_when_time_only_moves_forward(
    first: RegistryCommand, steps: list[Step]
) -> None:
    run = play(first, steps)
    check_history(run)
    assert as_of_effective(run.facts, FOREVER) == run.state
    for i, fact in enumerate(run.facts):
        # With monotonic effective times, the effective view at a fact is the prefix up to
        # the last fact sharing its effective time.
        last = max(j for j, f in enumerate(run.facts) if f.effective_time == fact.effective_time)
        assert as_of_effective(run.facts, fact.effective_time) == fold(
            f.payload for f in run.facts[: last + 1]
        ), i


@QUICK
@given(
    first=s.register(),
    steps=st.lists(st.tuples(s.commands, s.steps_apart, s.back_dating), min_size=10, max_size=40),
    cut=st.integers(min_value=0, max_value=24 * 400),
    data=st.data(),
)
def test_back_dating_keeps_invariants_and_every_fold_is_total(
    first: RegistryCommand, steps: list[Step], cut: int, data: st.DataObject
) -> None:
    run = play(first, steps)
    check_history(run)
    as_of_effective(run.facts, s.START - timedelta(days=60) + timedelta(hours=cut))
    as_of_effective(run.facts, FOREVER)
    shuffled = data.draw(st.permutations(run.facts))
    assert fold(f.payload for f in shuffled) is not None
