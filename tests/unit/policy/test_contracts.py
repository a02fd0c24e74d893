"""Contract end: access goes on the last day; access held after it is a violation."""

from __future__ import annotations

from datetime import date, timedelta

from services.policy.domain.coverage import coverage
from services.policy.domain.evaluation import Timer

from .support import START, Stream, active

END = date(2025, 3, 31)
DAY = timedelta(days=1)


def contractor_until(end: date | None) -> Stream:
    # Granted a fortnight before the end for 60 days: well inside the 90-day maximum.
    s = active("contractor", contract_end=end)
    return s.grant(on=END - 14 * DAY, expires=END + 45 * DAY)


def test_contract_end_requires_revocation_on_that_day_not_before() -> None:
    s = contractor_until(END)
    assert [g.revoke for g in s.evaluate(END - DAY).grants] == [()]
    on_end = s.evaluate(END)
    assert [g.revoke for g in on_end.grants] == [("contract_ended",)]
    assert on_end.violations == ()


def test_access_held_after_the_end_is_a_violation_counted_in_days() -> None:
    e = contractor_until(END).evaluate(END + 6 * DAY)
    [v] = e.violations
    assert (v.kind, v.subject_ref, v.since, v.days) == (
        "access_after_contract_end",
        "g-1",
        END + DAY,
        6,
    )
    assert [g.revoke for g in e.grants] == [("contract_ended",)]


def test_a_back_dated_termination_raises_the_finding_from_the_corrected_end() -> None:
    s = contractor_until(date(2025, 12, 31))
    assert s.evaluate(date(2025, 3, 10)).violations == ()
    s.terminate(date(2025, 3, 4), on=date(2025, 3, 4))  # recorded on the 10th, effective the 4th
    [v] = s.evaluate(date(2025, 3, 10)).violations
    assert (v.since, v.days) == (date(2025, 3, 5), 6)


def test_a_renewal_as_a_new_contract_does_not_end_access() -> None:
    s = contractor_until(END)
    s.contract(date(2025, 9, 30), start=END + DAY, contract_id="k-2")
    assert [g.revoke for g in s.evaluate(END).grants] == [()]
    basis = coverage(s.view, END)
    assert (basis.state, basis.end, basis.contract_id) == ("covered", date(2025, 9, 30), "k-2")


def test_a_gap_between_contracts_ends_access_until_the_next_one_starts() -> None:
    s = contractor_until(END)
    s.contract(date(2025, 9, 30), start=date(2025, 5, 1), contract_id="k-2")
    e = s.evaluate(date(2025, 4, 10))
    assert [g.revoke for g in e.grants] == [("contract_ended",)]
    assert Timer(date(2025, 5, 1), "contract_start", "k-2") in s.timers(date(2025, 4, 10))


def test_an_open_ended_contract_never_ends_access() -> None:
    s = active("employee", contract_end=None).grant(classification="restricted")
    e = s.evaluate(date(2040, 1, 1))
    assert [g.revoke for g in e.grants] == [()]
    assert not any(t.kind == "contract_end" for t in s.timers(date(2040, 1, 1)))


def test_access_without_any_contract_is_flagged_where_the_type_needs_one() -> None:
    s = Stream("contractor").register().grant(expires=START + 30 * DAY)
    [v] = s.evaluate(START).violations
    assert (v.kind, v.subject_ref) == ("access_without_contract", "g-1")
    agent = Stream("digital_agent").register().grant(expires=START + 30 * DAY)
    assert agent.evaluate(START).violations == ()


def test_a_contract_not_yet_started_is_not_in_force() -> None:
    s = Stream("contractor").register().contract(date(2025, 12, 31), start=date(2025, 6, 1))
    basis = coverage(s.view, START)
    assert (basis.state, basis.next_start) == ("not_started", date(2025, 6, 1))
    assert coverage(Stream().view, START).state == "none"
