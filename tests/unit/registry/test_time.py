"""Effective time on decisions, and the two time axes of reading a contributor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.registry.domain.commands import (
    Activate,
    AddContract,
    GrantAccess,
    Offboard,
    RegistryCommand,
    StartOnboarding,
    Suspend,
    TerminateContract,
)
from services.registry.domain.contributor import StoredFact, as_of_effective, fold
from services.registry.domain.decide import CLOCK_SKEW_TOLERANCE
from services.registry.domain.errors import InvalidCommand
from services.registry.domain.state import Contributor

from .support import CID, NOW, decisions, register

DAY = timedelta(days=1)


def history(*steps: tuple[RegistryCommand, datetime]) -> list[StoredFact]:
    """Decide each (command, recorded time) in turn; store the facts like an event store."""
    facts: list[StoredFact] = []
    state: Contributor | None = None
    for command, recorded in steps:
        for decision in decisions(state, command, now=recorded):
            facts.append(
                StoredFact(len(facts) + 1, decision.effective_at, recorded, decision.event)
            )
            state = fold([decision.event], state)
    return facts


def test_effective_time_defaults_to_now_and_may_be_back_dated() -> None:
    [now_decision] = decisions(None, register())
    assert now_decision.effective_at == NOW
    [back_dated] = decisions(None, register(effective_at=NOW - 30 * DAY))
    assert back_dated.effective_at == NOW - 30 * DAY


def test_the_future_is_refused_beyond_clock_skew() -> None:
    assert decisions(None, register(effective_at=NOW + CLOCK_SKEW_TOLERANCE))
    with pytest.raises(InvalidCommand) as info:
        decisions(None, register(effective_at=NOW + CLOCK_SKEW_TOLERANCE + timedelta(seconds=1)))
    assert info.value.reason == "effective_in_future"


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decisions(None, register(), now=datetime(2025, 1, 1))


def test_all_events_of_one_command_share_its_effective_time() -> None:
    facts = history(
        (register(), NOW - 10 * DAY),
        (StartOnboarding(contributor_id=CID), NOW - 9 * DAY),
        (
            GrantAccess(
                contributor_id=CID, grant_id="g-1", resource="wiki", classification="public"
            ),
            NOW - 9 * DAY,
        ),
        (Offboard(contributor_id=CID, reason="resigned", effective_at=NOW - 2 * DAY), NOW),
    )
    assert [f.effective_time for f in facts[-2:]] == [NOW - 2 * DAY, NOW - 2 * DAY]


def test_as_of_effective_answers_who_was_active_when() -> None:
    facts = history(
        (register(effective_at=NOW - 20 * DAY), NOW - 20 * DAY),
        (StartOnboarding(contributor_id=CID), NOW - 15 * DAY),
        (Activate(contributor_id=CID), NOW - 10 * DAY),
        (Suspend(contributor_id=CID, reason="investigation"), NOW - 5 * DAY),
    )
    assert as_of_effective(facts, NOW - 21 * DAY) is None
    lifecycle = {
        days: state.lifecycle
        for days in (20, 15, 12, 10, 6, 5, 0)
        if (state := as_of_effective(facts, NOW - days * DAY)) is not None
    }
    assert lifecycle == {
        20: "invited",
        15: "onboarding",
        12: "onboarding",
        10: "active",
        6: "active",
        5: "suspended",
        0: "suspended",
    }
    assert as_of_effective(facts, NOW) == fold(f.payload for f in facts)


def test_a_back_dated_termination_shows_on_the_effective_axis_but_not_before_it_was_known() -> None:
    contract = AddContract(
        contributor_id=CID,
        contract_id="k-1",
        legal_entity="Acme GmbH",
        start=date(2025, 1, 1),
        terms_reference="doc:1",
        effective_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    recorded_on = NOW
    termination = TerminateContract(
        contributor_id=CID,
        contract_id="k-1",
        end=date(2025, 2, 20),
        effective_at=datetime(2025, 2, 20, 18, tzinfo=UTC),
    )
    facts = history(
        (register(effective_at=datetime(2025, 1, 1, tzinfo=UTC)), datetime(2025, 1, 2, tzinfo=UTC)),
        (contract, datetime(2025, 1, 2, tzinfo=UTC)),
        (termination, recorded_on),
    )
    on_feb_25 = as_of_effective(facts, datetime(2025, 2, 25, tzinfo=UTC))
    assert on_feb_25 is not None
    assert on_feb_25.contracts["k-1"].status == "terminated"
    # What we knew on 25 February: the store returns the prefix recorded by then.
    known_then = fold(
        f.payload for f in facts if f.recorded_time <= datetime(2025, 2, 25, tzinfo=UTC)
    )
    assert known_then is not None
    assert known_then.contracts["k-1"].status == "in_force"


def test_registration_is_folded_first_even_if_facts_were_back_dated_before_it() -> None:
    facts = history(
        (register(), NOW),
        (StartOnboarding(contributor_id=CID, effective_at=NOW - DAY), NOW),
    )
    assert as_of_effective(facts, NOW - DAY) is None
    state = as_of_effective(facts, NOW)
    assert state is not None
    assert (state.registered, state.lifecycle, state.version) == (True, "onboarding", 2)
