"""`apply` is total: it records facts in whatever order they arrive."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.registry.domain.contributor import apply, fold
from services.registry.domain.events import (
    AccessGranted,
    AccessRevoked,
    ContractAdded,
    ContractExtended,
    ContractTerminated,
    EngagementEnded,
    EngagementStarted,
    OnboardingStarted,
    Registered,
    RegistryEvent,
)

REGISTERED = Registered(
    contributor_id="c-1",
    contributor_type="employee",
    display_name="Ada",
    owning_function="hr",
    sponsor="emp-1",
    business_unit="People",
)


def test_a_stream_without_its_registration_folds_to_an_unregistered_placeholder() -> None:
    state = apply(None, OnboardingStarted())
    assert (state.registered, state.lifecycle, state.version) == (False, "onboarding", 1)
    registered = apply(state, REGISTERED)
    assert (registered.registered, registered.id, registered.lifecycle) == (
        True,
        "c-1",
        "onboarding",
    )


def test_revoking_an_unknown_grant_changes_nothing_but_the_version() -> None:
    state = apply(None, REGISTERED)
    after = apply(state, AccessRevoked(grant_id="g-1", reason="expired"))
    assert after == replace(state, version=2)


def test_termination_is_final_whatever_the_order() -> None:
    added = ContractAdded(
        contract_id="k-1", legal_entity="Acme", start=date(2025, 1, 1), terms_reference="t"
    )
    terminated = ContractTerminated(
        contract_id="k-1",
        legal_entity="Acme",
        start=date(2025, 1, 1),
        end=date(2025, 2, 1),
        terms_reference="t",
    )
    extended = ContractExtended(
        contract_id="k-1",
        legal_entity="Acme",
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        terms_reference="t",
    )
    orders: list[list[RegistryEvent]] = [
        [added, terminated, extended],
        [terminated, added, extended],
    ]
    for order in orders:
        state = fold([REGISTERED, *order])
        assert state is not None
        assert state.contracts["k-1"].status == "terminated"
        assert state.contracts["k-1"].end == date(2025, 2, 1)


def test_an_ended_engagement_stays_ended_and_grants_follow_the_last_word() -> None:
    facts = {
        "engagement_id": "e-1",
        "business_unit": "BU",
        "sponsor": "s",
        "start": date(2025, 1, 1),
    }
    ended = EngagementEnded(**facts, end=date(2025, 1, 31))
    state = fold([REGISTERED, ended, EngagementStarted(**facts)])
    assert state is not None
    assert state.engagements["e-1"].status == "ended"
    granted = AccessGranted(grant_id="g-1", resource="wiki", classification="public")
    revoked = AccessRevoked(grant_id="g-1", reason="offboarded")
    reordered = fold([REGISTERED, revoked, granted])
    assert reordered is not None
    assert set(reordered.grants) == {"g-1"}
