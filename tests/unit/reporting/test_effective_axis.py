"""Random registry histories with back-dating: the effective-dated rows agree with the
registry's own "as of effective time" fold, and live projection equals a rebuild."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.domain import commands as c
from services.registry.domain.commands import RegistryCommand
from services.registry.domain.contributor import StoredFact, as_of_effective
from services.registry.domain.errors import DomainError
from services.registry.domain.events import parse
from services.reporting.projections import MemoryTables, project, project_batch
from tests.unit.registry import strategies as s
from tests.unit.registry.support import CID

from .ecosystem import Ecosystem

Step = tuple[RegistryCommand, timedelta, timedelta | None]
TICK = timedelta(microseconds=1)


def play(first: RegistryCommand, steps: list[Step]) -> Ecosystem:
    eco = Ecosystem()
    now = s.START
    opening: list[Step] = [
        (c.StartOnboarding(contributor_id=CID), timedelta(hours=1), None),
        (c.Activate(contributor_id=CID), timedelta(days=2), None),
    ]
    for command, gap, back in [(first, timedelta(0), None), *opening, *steps]:
        now += gap
        try:
            eco.do(command, now, effective=None if back is None else now - back)
        except DomainError:
            continue
    return eco


def _command(cls: type[RegistryCommand], **fields: Any) -> st.SearchStrategy[RegistryCommand]:
    return st.builds(cls, contributor_id=st.just(CID), **fields)


# The registry's random commands, weighted towards what shapes reporting rows: lifecycle
# moves, grants and revocations, contracts, conversions.
commands = st.one_of(
    s.commands,
    s.onboard,
    s.activate,
    s.grant,
    s.grant,
    _command(c.Offboard, reason=st.just("other")),
    _command(c.Reengage),
    _command(c.RevokeAccess, grant_id=s.grant_ids, reason=st.just("requested")),
    _command(
        c.AddContract,
        contract_id=s.contract_ids,
        legal_entity=st.just("Acme"),
        start=s.days,
        end=s.maybe_days,
        terms_reference=st.just("doc:1"),
    ),
    _command(c.TerminateContract, contract_id=s.contract_ids, end=s.days),
    _command(c.ConvertType, to_type=st.sampled_from(["employee", "contractor"])),
)
histories = st.tuples(
    s.register(),
    st.lists(st.tuples(commands, s.steps_apart, s.back_dating), min_size=10, max_size=40),
)


@settings(max_examples=80, deadline=None)
@given(history=histories, probes=st.lists(st.integers(0, 24 * 400), max_size=5))
def test_intervals_say_what_the_registry_fold_says_at_every_instant(
    history: tuple[RegistryCommand, list[Step]], probes: list[int]
) -> None:
    eco = play(*history)
    tables = MemoryTables()
    tables.apply(project_batch({}, eco.events)[1])
    intervals = tables.rows("lifecycle_intervals")
    facts = [
        StoredFact(e.sequence or 0, e.effective_time, e.recorded_time, parse(e.type, e.data))
        for e in eco.events
    ]
    instants = {r["valid_from"] + d for r in intervals for d in (-TICK, timedelta(0))}
    instants |= {s.START - timedelta(days=60) + timedelta(hours=h) for h in probes}
    for t in instants:
        expected = as_of_effective(facts, t)
        found = [
            r
            for r in intervals
            if r["valid_from"] <= t and (r["valid_to"] is None or t < r["valid_to"])
        ]
        if expected is None:
            assert found == []
            continue
        (row,) = found
        assert (row["lifecycle_state"], row["contributor_type"]) == (
            expected.lifecycle,
            expected.contributor_type,
        )
        assert (row["business_unit"], row["owning_function"]) == (
            expected.business_unit,
            expected.owning_function,
        )


@settings(max_examples=40, deadline=None)
@given(history=histories)
def test_live_projection_of_back_dated_histories_equals_a_rebuild(
    history: tuple[RegistryCommand, list[Step]],
) -> None:
    eco = play(*history)
    live = MemoryTables()
    for event in eco.events:
        live.apply(project(live.facts(event.subject), event).ops)
    rebuilt = MemoryTables()
    rebuilt.apply(project_batch({}, eco.events)[1])
    assert live.snapshot() == rebuilt.snapshot()
    for x in live.rows("access_exposures"):
        (grant,) = [
            g
            for g in live.rows("access_grants")
            if (g["grant_id"], g["granted_sequence"]) == (x["grant_id"], x["granted_sequence"])
        ]
        assert grant["held_from"] <= x["exposed_from"]
        assert grant["held_until"] is None or (
            x["exposed_until"] is not None and x["exposed_until"] <= grant["held_until"]
        )
