"""Registration, lifecycle transitions, conversion, profile and source references."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.registry.domain.commands import (
    Activate,
    AddContract,
    ConvertType,
    GrantAccess,
    LinkSourceReference,
    Offboard,
    Reengage,
    RegistryCommand,
    Reinstate,
    StartEngagement,
    StartOnboarding,
    Suspend,
    UpdateProfile,
)
from services.registry.domain.errors import (
    AlreadyRegistered,
    ContributorNotFound,
    IllegalTransition,
    InvalidCommand,
    UnknownContributorType,
)
from services.registry.domain.events import (
    AccessRevoked,
    EngagementEnded,
    Offboarded,
    ProfileUpdated,
    Registered,
    SourceReferenceLinked,
    TypeConverted,
)
from services.registry.domain.state import TypeChange
from services.registry.domain.values import SourceReference

from .support import CID, NOW, TYPES, decisions, events, given, register, run

ONBOARD = StartOnboarding(contributor_id=CID)
ACTIVATE = Activate(contributor_id=CID)
SUSPEND = Suspend(contributor_id=CID, reason="investigation")
REINSTATE = Reinstate(contributor_id=CID)
OFFBOARD = Offboard(contributor_id=CID, reason="contract_ended")
REENGAGE = Reengage(contributor_id=CID)


def test_registration_starts_invited_with_a_normalised_email() -> None:
    command = register(
        email="  Ada@Example.COM ",
        source_references=[{"system": "workday", "external_id": "W-1"}],
    )
    [event] = events(None, command)
    assert isinstance(event, Registered)
    assert event.email == "ada@example.com"
    assert event.initial_state == "invited"
    state = run(None, command)
    assert (state.id, state.contributor_type, state.lifecycle) == (CID, "contractor", "invited")
    assert state.source_references == (SourceReference(system="workday", external_id="W-1"),)
    assert state.version == 1


def test_registering_twice_is_refused() -> None:
    with pytest.raises(AlreadyRegistered) as info:
        events(given(), register())
    assert info.value.code == "already_registered"


def test_an_unknown_type_is_refused_but_a_configured_one_is_accepted() -> None:
    with pytest.raises(UnknownContributorType):
        events(None, register(contributor_type="researcher"))
    extended = TYPES.with_type("researcher")
    assert decisions(None, register(contributor_type="researcher"), types=extended)


def test_duplicate_source_references_are_refused() -> None:
    ref = {"system": "vms", "external_id": "V-9"}
    with pytest.raises(InvalidCommand) as info:
        events(None, register(source_references=[ref, ref]))
    assert info.value.reason == "duplicate_source_reference"


def test_commands_for_an_unregistered_contributor_are_refused() -> None:
    with pytest.raises(ContributorNotFound):
        events(None, ONBOARD)


def test_a_command_for_another_contributor_is_refused() -> None:
    with pytest.raises(InvalidCommand) as info:
        events(given(), StartOnboarding(contributor_id="c-2"))
    assert info.value.reason == "contributor_mismatch"


def test_the_happy_lifecycle() -> None:
    state = given()
    steps: list[tuple[RegistryCommand, str]] = [
        (ONBOARD, "onboarding"),
        (ACTIVATE, "active"),
        (SUSPEND, "suspended"),
        (REINSTATE, "active"),
        (OFFBOARD, "offboarded"),
        (REENGAGE, "onboarding"),
    ]
    for command, expected in steps:
        state = run(state, command)
        assert state.lifecycle == expected
    assert state.version == 7


@pytest.mark.parametrize(
    ("setup", "command"),
    [
        ((), ACTIVATE),
        ((), SUSPEND),
        ((), REINSTATE),
        ((), REENGAGE),
        ((ONBOARD,), ONBOARD),
        ((ONBOARD,), SUSPEND),
        ((ONBOARD, ACTIVATE), ACTIVATE),
        ((ONBOARD, ACTIVATE), REINSTATE),
        ((ONBOARD, ACTIVATE, SUSPEND), SUSPEND),
        ((ONBOARD, ACTIVATE, SUSPEND), ACTIVATE),
        ((OFFBOARD,), OFFBOARD),
        ((OFFBOARD,), ACTIVATE),
        ((OFFBOARD,), ONBOARD),
    ],
)
def test_illegal_transitions_are_refused(
    setup: tuple[RegistryCommand, ...], command: RegistryCommand
) -> None:
    state = given(*setup)
    with pytest.raises(IllegalTransition) as info:
        events(state, command)
    assert info.value.from_state == state.lifecycle
    assert info.value.command == type(command).__name__


@pytest.mark.parametrize(
    "setup", [(), (ONBOARD,), (ONBOARD, ACTIVATE), (ONBOARD, ACTIVATE, SUSPEND)]
)
def test_offboarding_is_possible_from_every_other_state(setup: tuple[RegistryCommand, ...]) -> None:
    assert run(given(*setup), OFFBOARD).lifecycle == "offboarded"


def test_offboarding_revokes_grants_then_ends_engagements_then_offboards() -> None:
    state = given(
        ONBOARD,
        ACTIVATE,
        GrantAccess(contributor_id=CID, grant_id="g-2", resource="crm", classification="internal"),
        GrantAccess(contributor_id=CID, grant_id="g-1", resource="wiki", classification="public"),
        StartEngagement(
            contributor_id=CID,
            engagement_id="e-1",
            business_unit="Logistics",
            sponsor="emp-42",
            start=date(2025, 1, 1),
            end=date(2025, 12, 31),
        ),
    )
    emitted = events(state, OFFBOARD)
    assert [type(e) for e in emitted] == [AccessRevoked, AccessRevoked, EngagementEnded, Offboarded]
    revoked = [e for e in emitted if isinstance(e, AccessRevoked)]
    assert [(r.grant_id, r.reason) for r in revoked] == [
        ("g-1", "offboarded"),
        ("g-2", "offboarded"),
    ]
    ended = emitted[2]
    assert isinstance(ended, EngagementEnded)
    assert ended.end == NOW.date()
    after = run(state, OFFBOARD)
    assert after.grants == {}
    assert after.engagements["e-1"].status == "ended"


def test_offboarding_ends_engagements_at_a_passed_planned_end_or_at_their_start() -> None:
    def engagement(eid: str, start: date, end: date) -> StartEngagement:
        return StartEngagement(
            contributor_id=CID,
            engagement_id=eid,
            business_unit="Logistics",
            sponsor="emp-42",
            start=start,
            end=end,
        )

    today = NOW.date()
    state = given(
        engagement("past", today - timedelta(days=60), today - timedelta(days=30)),
        engagement("future", today + timedelta(days=30), today + timedelta(days=60)),
    )
    ends = {
        e.engagement_id: e.end for e in events(state, OFFBOARD) if isinstance(e, EngagementEnded)
    }
    assert ends == {"past": today - timedelta(days=30), "future": today + timedelta(days=30)}


def test_reengagement_keeps_identity_and_history() -> None:
    state = given(
        AddContract(
            contributor_id=CID,
            contract_id="k-1",
            legal_entity="Acme GmbH",
            start=date(2024, 1, 1),
            terms_reference="doc:1",
        ),
        OFFBOARD,
    )
    after = run(state, REENGAGE)
    assert (after.id, after.lifecycle) == (CID, "onboarding")
    assert "k-1" in after.contracts


def test_conversion_changes_type_and_records_history() -> None:
    state = run(given(ONBOARD, ACTIVATE), ConvertType(contributor_id=CID, to_type="employee"))
    assert state.contributor_type == "employee"
    assert state.type_history == (TypeChange("contractor", "employee"),)
    assert state.id == CID
    assert events(state, ConvertType(contributor_id=CID, to_type="partner")) == [
        TypeConverted(from_type="employee", to_type="partner")
    ]


@pytest.mark.parametrize(
    ("to_type", "reason"),
    [
        ("contractor", "same_type"),
        ("subcontractor", "kind_change"),
        ("digital_agent", "kind_change"),
    ],
)
def test_conversion_refusals(to_type: str, reason: str) -> None:
    with pytest.raises(InvalidCommand) as info:
        events(given(), ConvertType(contributor_id=CID, to_type=to_type))
    assert info.value.reason == reason


def test_conversion_to_an_unknown_type_or_while_offboarded_is_refused() -> None:
    with pytest.raises(UnknownContributorType):
        events(given(), ConvertType(contributor_id=CID, to_type="wizard"))
    with pytest.raises(InvalidCommand) as info:
        events(given(OFFBOARD), ConvertType(contributor_id=CID, to_type="employee"))
    assert info.value.reason == "contributor_offboarded"


def test_profile_update_carries_only_changed_fields() -> None:
    command = UpdateProfile(
        contributor_id=CID, display_name="Ada Example", email="ADA.NEW@example.com", sponsor="emp-7"
    )
    [event] = events(given(), command)
    assert isinstance(event, ProfileUpdated)
    assert event.model_dump(mode="json") == {"email": "ada.new@example.com", "sponsor": "emp-7"}
    state = run(given(), command)
    assert (state.email, state.sponsor, state.display_name) == (
        "ada.new@example.com",
        "emp-7",
        "Ada Example",
    )


def test_profile_update_without_change_is_a_no_op_and_without_fields_is_refused() -> None:
    assert events(given(), UpdateProfile(contributor_id=CID, business_unit="Logistics")) == []
    with pytest.raises(InvalidCommand) as info:
        events(given(), UpdateProfile(contributor_id=CID))
    assert info.value.reason == "empty_update"


def test_linking_a_source_reference_once() -> None:
    link = LinkSourceReference(contributor_id=CID, system="okta", external_id="00u1")
    assert events(given(), link) == [SourceReferenceLinked(system="okta", external_id="00u1")]
    assert events(given(link), link) == []
