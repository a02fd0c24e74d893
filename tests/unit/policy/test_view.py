"""Folding registry events into the policy's view of a contributor."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.policy.domain.view import apply, fold
from services.registry.domain import events as r

from .support import CID, SPONSOR, START, Stream, at


def test_a_story_folds_into_the_view() -> None:
    s = Stream("contractor").register().contract(date(2025, 6, 30))
    s.check("background_check", valid_until=date(2025, 5, 31), on=date(2025, 1, 8))
    s.activate().grant(classification="confidential", expires=date(2025, 3, 31))
    s.add(r.DeiProgramEnrolled(program="mentoring"))
    v = s.view
    assert (v.id, v.contributor_type, v.lifecycle, v.sponsor) == (
        CID,
        "contractor",
        "active",
        SPONSOR,
    )
    assert v.requirements_since == START
    assert v.contracts["k-1"].end == date(2025, 6, 30)
    check = v.checks["background_check"]
    assert (check.outcome, check.valid_until, check.recorded_on) == (
        "passed",
        date(2025, 5, 31),
        date(2025, 1, 8),
    )
    grant = v.grants["g-1"]
    assert (grant.classification, grant.granted_on) == ("confidential", START)
    assert v.dei_enrolments == {"mentoring"}
    assert v.version == 6


def test_lifecycle_and_type_changes() -> None:
    s = Stream("contractor").register().activate()
    seen = [s.add(r.Suspended(reason="investigation")).view.lifecycle]
    seen.append(s.add(r.Reinstated()).view.lifecycle)
    assert seen == ["suspended", "active"]
    s.offboard(on=date(2025, 2, 1))
    assert (s.view.lifecycle, s.view.offboarded_on) == ("offboarded", date(2025, 2, 1))
    s.add(r.Reengaged(), on=date(2025, 4, 1))
    assert (s.view.lifecycle, s.view.offboarded_on) == ("onboarding", None)
    assert s.view.requirements_since == date(2025, 4, 1)
    s.add(r.TypeConverted(from_type="contractor", to_type="employee"), on=date(2025, 5, 1))
    assert (s.view.contributor_type, s.view.requirements_since) == ("employee", date(2025, 5, 1))
    s.add(r.ProfileUpdated(sponsor="emp-7"))
    assert s.view.sponsor == "emp-7"


def test_a_revoked_grant_and_a_withdrawn_program_are_gone() -> None:
    s = Stream().register().grant().grant("g-2").revoke("g-1")
    s.add(r.DeiProgramEnrolled(program="mentoring")).add(r.DeiProgramWithdrawn(program="mentoring"))
    assert set(s.view.grants) == {"g-2"}
    assert s.view.dei_enrolments == frozenset()


def test_termination_is_final() -> None:
    s = Stream().register().contract(date(2025, 12, 31)).terminate(date(2025, 3, 31))
    s.add(
        r.ContractExtended(
            contract_id="k-1",
            legal_entity="Example Ltd",
            start=START,
            end=date(2026, 12, 31),
            terms_reference="MSA-1",
        )
    )
    term = s.view.contracts["k-1"]
    assert (term.end, term.terminated) == (date(2025, 3, 31), True)


def test_events_policy_does_not_need_only_move_the_version() -> None:
    s = Stream().register()
    before = s.view
    s.add(r.SourceReferenceLinked(system="okta", external_id="x-1"))
    s.add(r.SelfIdentificationRecorded(key_reference="k-1", dimensions=("gender",)))
    view = apply(s.view, "org.example.unknown.v9", {"whatever": 1}, at(START), 4)
    assert view == replace(before, version=4)


def test_a_redelivered_event_changes_nothing() -> None:
    s = Stream().register().grant()
    again = apply(
        s.view,
        r.AccessRevoked.TYPE,
        {"grant_id": "g-1", "reason": "requested"},
        at(START),
        s.view.version,
    )
    assert again is s.view


def test_an_unreadable_payload_is_noted_not_raised() -> None:
    view = apply(None, r.CheckRecorded.TYPE, {"check": "astrology"}, at(START), 1)
    assert (view.version, view.unreadable, view.checks) == (1, (1,), {})
    view = apply(view, r.AccessGranted.TYPE, "not even a mapping", at(START), 2)  # type: ignore[arg-type]
    assert view.unreadable == (1, 2)


def test_fields_newer_than_this_code_are_ignored() -> None:
    data = {"check": "nda", "outcome": "passed", "valid_until": None, "vendor_score": 7}
    view = apply(None, r.CheckRecorded.TYPE, data, at(START), 1)
    assert view.checks["nda"].outcome == "passed"
    assert view.unreadable == ()


def test_fold_applies_in_order() -> None:
    view = fold(
        [
            (r.Activated.TYPE, {}, at(START), 1),
            (r.Suspended.TYPE, {"reason": "other"}, at(START), 2),
        ]
    )
    assert (view.lifecycle, view.version) == ("suspended", 2)
