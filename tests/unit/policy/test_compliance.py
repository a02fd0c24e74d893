"""Compliance: check states, grace periods, consequences, and the revocations they force."""

from __future__ import annotations

from datetime import date, timedelta

from services.policy.domain.evaluation import Evaluation
from services.registry.domain.events import TypeConverted

from .support import START, Stream, active, with_rules

V = date(2025, 4, 30)
"""The last day the background check counts."""
DAY = timedelta(days=1)


def contractor_with_background_check_until(last_day: date) -> Stream:
    s = active("contractor")
    s.check("background_check", valid_until=last_day)
    # Granted a month before, for two months: within the contractor's 90-day maximum.
    return s.grant(
        classification="confidential", on=last_day - 30 * DAY, expires=last_day + 30 * DAY
    )


def revocation_reasons(e: Evaluation) -> list[tuple[str, ...]]:
    return [g.revoke for g in e.grants]


def test_an_expiring_background_check_revokes_access_on_the_expiry_day_not_before() -> None:
    s = contractor_with_background_check_until(V)
    on_last_valid_day = s.evaluate(V)
    assert on_last_valid_day.compliance.status == "compliant"
    assert revocation_reasons(on_last_valid_day) == [()]

    expiry_day = s.evaluate(V + DAY)
    assert expiry_day.compliance.status == "expired"
    assert expiry_day.compliance.expired == ("background_check",)
    assert revocation_reasons(expiry_day) == [("non_compliant",)]


def test_grace_delays_the_consequence_by_exactly_the_grace_period() -> None:
    policy = with_rules(
        {
            "types": {
                "contractor": {"compliance": {"checks": {"background_check": {"grace_days": 5}}}}
            }
        }
    )
    s = contractor_with_background_check_until(V)
    in_grace = s.evaluate(V + 5 * DAY, policy)
    assert (in_grace.compliance.status, in_grace.compliance.in_grace) == (
        "pending",
        ("background_check",),
    )
    assert revocation_reasons(in_grace) == [()]
    lapsed = s.evaluate(V + 6 * DAY, policy)
    assert lapsed.compliance.status == "expired"
    assert revocation_reasons(lapsed) == [("non_compliant",)]


def test_the_policys_own_validity_limit_applies_from_the_day_the_check_was_recorded() -> None:
    s = active("contractor")  # every check passed on START with no vendor expiry
    assert s.view.checks["background_check"].valid_until is None
    [background] = [r for r in s.evaluate(START).requirements if r.check == "background_check"]
    assert background.valid_until == START + 365 * DAY
    assert s.evaluate(START + 365 * DAY).compliance.status == "compliant"
    assert s.evaluate(START + 366 * DAY).compliance.expired == ("background_check",)


def test_a_failed_check_under_strict_policy_revokes_at_once() -> None:
    s = active("contractor").grant(expires=START + 60 * DAY)
    s.check("background_check", outcome="failed")
    e = s.evaluate(START)
    assert (e.compliance.status, e.compliance.failed) == ("non_compliant", ("background_check",))
    assert revocation_reasons(e) == [("non_compliant",)]


def test_a_check_pending_at_the_vendor_counts_as_missing() -> None:
    s = Stream("partner").register()
    s.check("nda", outcome="pending")
    e = s.evaluate(START)
    assert (e.compliance.status, e.compliance.missing) == ("pending", ("nda",))


def test_a_missing_check_becomes_overdue_only_once_active_and_past_its_grace() -> None:
    s = Stream("contractor").register().contract(date(2025, 12, 31))
    for name in (
        "identity_verification",
        "background_check",
        "nda",
        "misclassification_assessment",
    ):
        s.check(name)
    due = START + 30 * DAY  # security_training: 30 days of grace from registration
    s.grant(on=due, expires=due + 60 * DAY)
    assert s.evaluate(due + 10 * DAY).compliance.status == "pending"  # still onboarding
    s.activate()
    on_due = s.evaluate(due)
    assert on_due.compliance.status == "pending"
    assert [r.due for r in on_due.requirements if r.check == "security_training"] == [due]
    late = s.evaluate(due + DAY)
    assert (late.compliance.status, late.compliance.missing) == (
        "non_compliant",
        ("security_training",),
    )
    assert revocation_reasons(late) == [("non_compliant",)]


def test_standard_policy_blocks_activation_but_does_not_revoke() -> None:
    s = Stream("employee").register().contract(None)
    s.check("identity_verification").check("nda").check("security_training")
    s.grant(classification="restricted")
    onboarding = s.evaluate(START)
    assert onboarding.compliance.blocking == ("background_check",)
    assert onboarding.violations == ()
    s.activate()
    e = s.evaluate(START + 30 * DAY)
    assert e.compliance.status == "non_compliant"
    assert revocation_reasons(e) == [()]
    assert [(v.kind, v.subject_ref) for v in e.violations] == [
        ("active_without_required_check", "background_check")
    ]


def test_a_notify_check_only_changes_the_status() -> None:
    s = active("employee", contract_end=None).grant()
    s.check("security_training", valid_until=V)
    e = s.evaluate(V + 31 * DAY)  # past the 30 days of grace
    assert e.compliance.expired == ("security_training",)
    assert revocation_reasons(e) == [()]


def test_nothing_is_required_of_an_offboarded_contributor_but_their_access_goes() -> None:
    s = active("contractor").grant(expires=START + 60 * DAY)
    s.offboard(on=date(2025, 3, 1))
    on_the_day = s.evaluate(date(2025, 3, 1))
    assert on_the_day.requirements == ()
    assert on_the_day.compliance.status == "compliant"
    assert revocation_reasons(on_the_day) == [("offboarded",)]
    assert on_the_day.violations == ()
    later = s.evaluate(date(2025, 3, 4))
    [v] = later.violations
    assert (v.kind, v.subject_ref, v.since, v.days) == (
        "access_after_offboarding",
        "g-1",
        date(2025, 3, 2),
        3,
    )


def test_a_type_conversion_restarts_the_grace_for_new_checks() -> None:
    s = active("partner", contract_end=date(2025, 12, 31))
    s.add(TypeConverted(from_type="partner", to_type="employee"), on=date(2025, 3, 1))
    e = s.evaluate(date(2025, 3, 10))
    due = {r.check: r.due for r in e.requirements if r.state in ("missing", "overdue")}
    assert due["background_check"] == date(2025, 3, 15)
    assert e.compliance.status == "non_compliant"  # identity and nda have no grace
