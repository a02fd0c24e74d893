"""Timers and reminders: the future days on which policy must look again, and why."""

from __future__ import annotations

from datetime import date, timedelta

from services.policy.domain.evaluate import decisions
from services.policy.domain.evaluation import Reminder, Timer

from .support import Stream, active, with_rules

DAY = timedelta(days=1)
TODAY = date(2025, 3, 3)


def partner() -> Stream:
    """NDA valid to 15 April (14 days' grace), contract to 30 June, grant to 31 May."""
    s = active("partner", contract_end=date(2025, 6, 30))
    s.check("nda", valid_until=date(2025, 4, 15))
    return s.grant(expires=date(2025, 5, 31), on=TODAY)


def test_timers_cover_every_expiry_and_reminder() -> None:
    assert partner().timers(TODAY) == (
        Timer(date(2025, 3, 16), "reminder.check_expiry", "nda"),
        Timer(date(2025, 4, 1), "reminder.check_expiry", "nda"),
        Timer(date(2025, 4, 8), "reminder.check_expiry", "nda"),
        Timer(date(2025, 4, 16), "check_expiry", "nda"),
        Timer(date(2025, 4, 30), "check_due", "nda"),
        Timer(date(2025, 5, 1), "reminder.grant_expiry", "g-1"),
        Timer(date(2025, 5, 17), "reminder.grant_expiry", "g-1"),
        Timer(date(2025, 5, 24), "reminder.grant_expiry", "g-1"),
        Timer(date(2025, 5, 31), "grant_expiry", "g-1"),
        Timer(date(2025, 5, 31), "reminder.contract_end", "k-1"),
        Timer(date(2025, 6, 16), "reminder.contract_end", "k-1"),
        Timer(date(2025, 6, 23), "reminder.contract_end", "k-1"),
        Timer(date(2025, 6, 30), "contract_end", "k-1"),
        Timer(date(2025, 7, 1), "contract_lapsed", "k-1"),
    )


def test_every_timer_day_brings_a_decision() -> None:
    s = partner()
    for timer in s.timers(TODAY):
        found = decisions(s.evaluate(timer.due - DAY), s.evaluate(timer.due))
        assert found, timer


def test_timers_lie_strictly_in_the_future() -> None:
    s = partner()
    found = s.timers(date(2025, 4, 16))
    assert all(t.due > date(2025, 4, 16) for t in found)
    assert Timer(date(2025, 4, 30), "check_due", "nda") in found


def test_reminders_due_today_name_the_closest_offset_reached() -> None:
    s = partner()
    assert s.evaluate(date(2025, 4, 10)).reminders == (
        Reminder("check_expiry", "nda", date(2025, 4, 15), 7),
    )
    assert s.evaluate(date(2025, 3, 15)).reminders == ()
    assert s.evaluate(date(2025, 4, 15)).reminders[0].offset_days == 7  # still due on the day
    assert s.evaluate(date(2025, 4, 16)).reminders == ()  # expired: no reminder, a status


def test_reminder_offsets_come_from_the_policy() -> None:
    policy = with_rules({"reminder_offsets_days": [3]})
    found = partner().timers(TODAY, policy)
    assert [t.due for t in found if t.kind == "reminder.contract_end"] == [date(2025, 6, 27)]
    assert with_rules({"reminder_offsets_days": []}).reminder_offsets_days == ()


def test_a_grant_that_must_go_gets_no_reminder() -> None:
    s = active("partner", contract_end=date(2025, 6, 30))
    s.grant(classification="restricted", expires=date(2025, 3, 20), on=TODAY)
    found = s.timers(TODAY)
    assert not any(t.kind == "reminder.grant_expiry" for t in found)
    assert Timer(date(2025, 3, 20), "grant_expiry", "g-1") in found


def test_offboarding_schedules_the_day_held_access_becomes_a_violation() -> None:
    s = active("partner", contract_end=None).grant(on=TODAY)
    s.offboard(on=TODAY)
    assert s.timers(TODAY) == (Timer(TODAY + DAY, "offboarding_lapsed", "c-1"),)


def test_reminders_at_the_start_of_the_calendar() -> None:
    """Offsets reaching back before the first day of the calendar count as reached, and their
    reminder days, held at that first day, are not in the future."""
    s = active("partner", contract_end=date(2025, 6, 30))
    s.check("nda", valid_until=date(1, 1, 10))
    e = s.evaluate(date.min)
    assert [r for r in e.reminders if r.kind == "check_expiry"] == [
        Reminder("check_expiry", "nda", date(1, 1, 10), 14)
    ]
    found = s.timers(date.min)
    assert [t.due for t in found if t.kind == "reminder.check_expiry"] == [date(1, 1, 3)]


def test_a_contract_to_the_calendars_last_day_lapses_on_that_day() -> None:
    """The day after `date.max` does not exist: the timer is held at the last day, as
    `days.shift` holds dates, rather than lost or an overflow."""
    s = active("partner", contract_end=date.max).grant(expires=None, on=TODAY)
    found = s.timers(TODAY)
    assert Timer(date.max, "contract_end", "k-1") in found
    assert Timer(date.max, "contract_lapsed", "k-1") in found
    assert found == tuple(sorted(set(found)))
