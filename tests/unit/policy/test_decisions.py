"""Decision events: only what changed, stamped with the policy and stream version used."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from services.policy.domain.document import DEFAULT_POLICY, content_hash
from services.policy.domain.evaluate import decisions
from services.policy.domain.events import (
    AccessRevocationRequired,
    ComplianceStatusChanged,
    DeiProgramsExtended,
    ReminderDue,
    RequirementsAssigned,
    ViolationDetected,
    ViolationResolved,
    catalogue,
)
from services.registry.domain.events import TypeConverted

from .support import START, Stream, active, with_rules

DAY = timedelta(days=1)
TODAY = date(2025, 3, 3)
INTERNAL_CEILING = with_rules({"types": {"contractor": {"access": {"ceiling": "internal"}}}})


def contractor_with_two_grants() -> Stream:
    s = active("contractor")
    s.grant("g-conf", "crm", "confidential", expires=TODAY + 30 * DAY, on=TODAY)
    return s.grant("g-int", "wiki", "internal", expires=TODAY + 30 * DAY, on=TODAY)


def types_of(events: Sequence[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_first_evaluation_states_what_holds() -> None:
    e = active("contractor").evaluate(TODAY)
    found = decisions(None, e)
    assert types_of(found) == [
        "RequirementsAssigned",
        "ComplianceStatusChanged",
        "DeiProgramsExtended",
    ]
    for d in found:
        assert (d.policy_hash, d.based_on_version) == (
            content_hash(DEFAULT_POLICY),
            e.based_on_version,
        )
        assert (d.mode, d.enforced, d.as_of) == ("enforced", True, TODAY)


def test_re_evaluating_emits_nothing_the_second_time() -> None:
    s = active("contractor")
    s.grant(expires=TODAY + 60 * DAY, on=TODAY)
    first = s.evaluate(TODAY)
    assert decisions(first, first) == []
    assert decisions(first, s.evaluate(TODAY)) == []
    assert decisions(first, s.evaluate(TODAY + DAY)) == []  # a day on, nothing new is due


def test_record_only_decisions_are_logged_but_not_enforced() -> None:
    policy = with_rules({"mode": "record_only"})
    s = active("contractor").grant(classification="restricted", expires=TODAY, on=TODAY)
    found = decisions(None, s.evaluate(TODAY, policy))
    assert found
    assert all(d.mode == "record_only" and d.enforced is False for d in found)
    [revocation] = [d for d in found if isinstance(d, AccessRevocationRequired)]
    assert revocation.reasons == ("over_ceiling", "expired")


def test_lowering_the_contractor_ceiling_revokes_only_the_affected_grants() -> None:
    s = contractor_with_two_grants()
    before = s.evaluate(TODAY)
    after = s.evaluate(TODAY, INTERNAL_CEILING)
    found = decisions(before, after)
    assert [(type(d).__name__, getattr(d, "grant_id", None)) for d in found] == [
        ("AccessRevocationRequired", "g-conf")
    ]
    [revocation] = found
    assert isinstance(revocation, AccessRevocationRequired)
    assert (revocation.reason, revocation.resource) == ("over_ceiling", "crm")
    assert revocation.policy_hash == content_hash(INTERNAL_CEILING)


def test_a_policy_change_that_does_not_touch_a_contributor_emits_nothing_for_them() -> None:
    employee = active("employee", contract_end=None).grant(classification="restricted")
    assert decisions(employee.evaluate(TODAY), employee.evaluate(TODAY, INTERNAL_CEILING)) == []
    contractor = active("contractor").grant("g-int", "wiki", "internal", TODAY + DAY, on=TODAY)
    assert decisions(contractor.evaluate(TODAY), contractor.evaluate(TODAY, INTERNAL_CEILING)) == []


def test_enforcing_a_record_only_policy_restates_what_it_recorded() -> None:
    record_only = with_rules({"mode": "record_only"}, INTERNAL_CEILING)
    s = contractor_with_two_grants()
    recorded = s.evaluate(TODAY, record_only)
    enforced = s.evaluate(TODAY, INTERNAL_CEILING)
    found = decisions(recorded, enforced)
    assert all(d.enforced for d in found)
    assert [d.grant_id for d in found if isinstance(d, AccessRevocationRequired)] == ["g-conf"]


def test_a_revocation_is_stated_again_only_when_its_reasons_change() -> None:
    s = active("contractor", contract_end=TODAY + 10 * DAY).grant(
        expires=TODAY + 10 * DAY, on=TODAY
    )
    on_end = s.evaluate(TODAY + 10 * DAY)
    first = decisions(s.evaluate(TODAY + 9 * DAY), on_end)
    [revocation] = [d for d in first if isinstance(d, AccessRevocationRequired)]
    assert revocation.reasons == ("contract_ended", "expired")
    assert [
        d
        for d in decisions(on_end, s.evaluate(TODAY + 10 * DAY))
        if isinstance(d, AccessRevocationRequired)
    ] == []


def test_a_violation_is_detected_once_and_resolved_once() -> None:
    end = TODAY + 10 * DAY
    s = active("contractor", contract_end=end).grant(expires=end + 30 * DAY, on=TODAY)
    day_after, week_after = s.evaluate(end + DAY), s.evaluate(end + 7 * DAY)
    detected = [
        d for d in decisions(s.evaluate(end), day_after) if isinstance(d, ViolationDetected)
    ]
    assert [(d.kind, d.subject_ref, d.days) for d in detected] == [
        ("access_after_contract_end", "g-1", 1)
    ]
    assert detected[0].details == {"resource": "crm", "classification": "internal"}
    assert decisions(day_after, week_after) == []
    s.revoke("g-1", on=end + 8 * DAY)
    resolved = decisions(week_after, s.evaluate(end + 8 * DAY))
    assert [(type(d), d.subject_ref) for d in resolved if isinstance(d, ViolationResolved)] == [
        (ViolationResolved, "g-1")
    ]


def test_compliance_changes_carry_the_previous_status() -> None:
    s = active("contractor", checks_valid_until=TODAY + 5 * DAY)
    found = decisions(s.evaluate(TODAY), s.evaluate(TODAY + 6 * DAY))
    [change] = [d for d in found if isinstance(d, ComplianceStatusChanged)]
    assert (change.previous_status, change.status) == ("compliant", "expired")
    assert set(change.expired) == {"identity_verification", "background_check", "nda"}
    # Training and the misclassification assessment have 30 days of grace in the default.
    assert set(change.in_grace) == {"security_training", "misclassification_assessment"}


def test_a_type_conversion_changes_requirements_and_dei_programs() -> None:
    s = active("contractor")
    before = s.evaluate(TODAY)
    s.add(TypeConverted(from_type="contractor", to_type="employee"), on=TODAY)
    found = decisions(before, s.evaluate(TODAY))
    [dei] = [d for d in found if isinstance(d, DeiProgramsExtended)]
    assert set(dei.added) == {"employee_resource_groups", "mentoring", "pay_equity_review"}
    assert dei.removed == ()
    [req] = [d for d in found if isinstance(d, RequirementsAssigned)]
    assert req.contributor_type == "employee"
    assert "misclassification_assessment" not in {r.check for r in req.requirements}


def test_reminders_go_out_once_per_offset() -> None:
    end = date(2025, 6, 30)
    s = active("subcontractor", contract_end=end)
    due = []
    previous = None
    day = end - 40 * DAY
    while day <= end:
        e = s.evaluate(day)
        due += [
            (d.as_of, d.offset_days, d.days_left)
            for d in decisions(previous, e)
            if isinstance(d, ReminderDue) and d.kind == "contract_end"
        ]
        previous = e
        day += DAY
    assert due == [(end - 30 * DAY, 30, 30), (end - 14 * DAY, 14, 14), (end - 7 * DAY, 7, 7)]


def test_a_contributor_first_seen_late_gets_only_the_closest_reminder() -> None:
    end = date(2025, 6, 30)
    e = active("subcontractor", contract_end=end).evaluate(end - 10 * DAY)
    reminders = [d for d in decisions(None, e) if isinstance(d, ReminderDue)]
    assert [(r.kind, r.offset_days) for r in reminders] == [("contract_end", 14)]


def test_every_decision_round_trips_through_the_catalogue() -> None:
    s = active("contractor", contract_end=TODAY + 3 * DAY).grant(
        classification="restricted", on=START
    )
    s.offboard(on=TODAY)
    for d in decisions(None, s.evaluate(TODAY + 5 * DAY)):
        assert d.TYPE.startswith("org.workforce.policy.")
        assert d.TYPE.endswith(".v1")
        assert catalogue.parse(d.TYPE, d.model_dump(mode="json")) == d
