"""Compliance checks, access grants, DEI programs and self-identification."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.registry.domain.commands import (
    Activate,
    EnrolDei,
    EraseSelfIdentification,
    GrantAccess,
    Offboard,
    RecordCheck,
    RecordSelfIdentification,
    RevokeAccess,
    StartOnboarding,
    Suspend,
    WithdrawDei,
)
from services.registry.domain.errors import InvalidCommand
from services.registry.domain.events import (
    AccessRevoked,
    SelfIdentificationErased,
    SelfIdentificationRecorded,
)
from services.registry.domain.state import AccessGrant, CheckResult, SelfIdentificationOnFile

from .support import CID, NOW, events, given, register, run

ONBOARD = StartOnboarding(contributor_id=CID)
ACTIVATE = Activate(contributor_id=CID)


def grant(grant_id: str = "g-1", **overrides: Any) -> GrantAccess:
    fields: dict[str, Any] = {
        "contributor_id": CID,
        "grant_id": grant_id,
        "resource": "erp:finance",
        "classification": "confidential",
        "expires_at": NOW + timedelta(days=90),
    }
    return GrantAccess.model_validate(fields | overrides)


def refused(state_commands: tuple[Any, ...], command: Any) -> str:
    with pytest.raises(InvalidCommand) as info:
        events(given(*state_commands), command)
    return info.value.reason


def test_the_latest_check_result_replaces_the_earlier_one() -> None:
    pending = RecordCheck(contributor_id=CID, check="background_check", outcome="pending")
    passed = RecordCheck(
        contributor_id=CID,
        check="background_check",
        outcome="passed",
        valid_until=date(2026, 3, 1),
        evidence_reference="vendor:report/123",
    )
    state = given(pending, passed)
    result = state.checks["background_check"]
    assert result == CheckResult(
        "background_check", "passed", date(2026, 3, 1), "vendor:report/123"
    )
    assert result.valid_on(date(2026, 3, 1))
    assert not result.valid_on(date(2026, 3, 2))


def test_only_passed_or_waived_results_have_a_validity_date() -> None:
    failed = RecordCheck(
        contributor_id=CID, check="nda", outcome="failed", valid_until=date(2026, 1, 1)
    )
    assert refused((), failed) == "validity_without_pass"


@pytest.mark.parametrize("setup", [(ONBOARD,), (ONBOARD, ACTIVATE)])
def test_access_may_be_granted_while_onboarding_or_active(setup: tuple[Any, ...]) -> None:
    state = given(*setup, grant())
    assert state.grants["g-1"] == AccessGrant(
        "g-1", "erp:finance", "confidential", NOW + timedelta(days=90)
    )


@pytest.mark.parametrize(
    "setup",
    [
        (),
        (ONBOARD, ACTIVATE, Suspend(contributor_id=CID, reason="investigation")),
        (Offboard(contributor_id=CID, reason="resigned"),),
    ],
)
def test_access_is_refused_while_invited_suspended_or_offboarded(setup: tuple[Any, ...]) -> None:
    assert refused(setup, grant()) == "access_not_allowed"


def test_grant_refusals() -> None:
    assert refused((ONBOARD, grant()), grant()) == "grant_exists"
    assert refused((ONBOARD,), grant(expires_at=NOW)) == "grant_already_expired"
    assert refused(
        (ONBOARD,), RevokeAccess(contributor_id=CID, grant_id="g-9", reason="other")
    ) == ("unknown_grant")


def test_revoking_a_grant() -> None:
    revoke = RevokeAccess(contributor_id=CID, grant_id="g-1", reason="expired")
    assert events(given(ONBOARD, grant()), revoke) == [
        AccessRevoked(grant_id="g-1", reason="expired")
    ]
    assert given(ONBOARD, grant(), revoke).grants == {}


def test_suspension_keeps_grants_for_policy_to_decide() -> None:
    state = given(ONBOARD, ACTIVATE, grant(), Suspend(contributor_id=CID, reason="investigation"))
    assert set(state.grants) == {"g-1"}


def test_dei_enrolment_and_withdrawal() -> None:
    enrol = EnrolDei(contributor_id=CID, program="mentoring")
    withdraw = WithdrawDei(contributor_id=CID, program="mentoring")
    assert given(enrol).dei_programs == {"mentoring"}
    assert given(enrol, withdraw).dei_programs == frozenset()
    assert refused((enrol,), enrol) == "already_enrolled"
    assert refused((), withdraw) == "not_enrolled"
    assert refused((Offboard(contributor_id=CID, reason="other"),), enrol) == (
        "contributor_offboarded"
    )


@pytest.mark.parametrize("contributor_type", ["digital_agent", "subcontractor"])
def test_dei_and_self_identification_apply_only_to_people(contributor_type: str) -> None:
    state = run(None, register(contributor_type=contributor_type))
    record = RecordSelfIdentification(
        contributor_id=CID, key_reference="k-1", dimensions=["gender"]
    )
    for command in (EnrolDei(contributor_id=CID, program="mentoring"), record):
        with pytest.raises(InvalidCommand) as info:
            events(state, command)
        assert info.value.reason == "not_applicable_to_type"


def test_self_identification_holds_only_a_key_reference_and_dimension_names() -> None:
    record = RecordSelfIdentification(
        contributor_id=CID, key_reference="sid-key-1", dimensions=["gender", "disability"]
    )
    [event] = events(given(), record)
    assert isinstance(event, SelfIdentificationRecorded)
    assert event.model_dump(mode="json") == {
        "key_reference": "sid-key-1",
        "dimensions": ["gender", "disability"],
    }
    state = given(record)
    assert state.self_identification_on_file
    assert state.self_identification == SelfIdentificationOnFile(
        "sid-key-1", ("gender", "disability")
    )


def test_self_identification_refuses_repeated_dimensions() -> None:
    record = RecordSelfIdentification(
        contributor_id=CID, key_reference="sid-key-1", dimensions=["gender", "gender"]
    )
    assert refused((), record) == "duplicate_dimension"


def test_erasure_names_the_key_to_shred_and_leaves_nothing_on_file() -> None:
    record = RecordSelfIdentification(
        contributor_id=CID, key_reference="sid-key-1", dimensions=["age_band"]
    )
    erase = EraseSelfIdentification(contributor_id=CID)
    assert events(given(record), erase) == [SelfIdentificationErased(key_reference="sid-key-1")]
    assert not given(record, erase).self_identification_on_file
    assert refused((), erase) == "self_identification_not_on_file"
    # Erasure must stay possible after the contributor has left.
    offboarded = given(record, Offboard(contributor_id=CID, reason="resigned"))
    assert events(offboarded, erase) == [SelfIdentificationErased(key_reference="sid-key-1")]
