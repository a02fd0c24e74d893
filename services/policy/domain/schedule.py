"""Reminders due today and the future days on which policy must look at a contributor again.

A reminder is due from its offset day until the target day; only the closest offset already
reached counts, so a contributor first seen ten days before a contract end gets the 14-day
reminder, not a burst of the 30- and 14-day ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from services.policy.domain.coverage import Coverage, coverage
from services.policy.domain.days import between
from services.policy.domain.document import PolicyDocument
from services.policy.domain.evaluation import (
    Evaluation,
    GrantVerdict,
    Reminder,
    ReminderKind,
    Requirement,
    Timer,
    TimerKind,
)
from services.policy.domain.view import PolicyView

_Target = tuple[ReminderKind, str, date]
TimerKey = tuple[int, TimerKind, str]
"""A timer as its due day's number (`date.toordinal`), kind and subject: the order that
orders timers, and the form a contributor's row keeps them in (`engine.scheduling`)."""
_LAST = date.max.toordinal()

_REMINDER_TIMER: dict[ReminderKind, TimerKind] = {
    "contract_end": "reminder.contract_end",
    "check_expiry": "reminder.check_expiry",
    "grant_expiry": "reminder.grant_expiry",
}


def _targets(
    view: PolicyView,
    requirements: tuple[Requirement, ...],
    grants: tuple[GrantVerdict, ...],
    basis: Coverage,
) -> list[_Target]:
    if view.lifecycle == "offboarded":
        return []
    found: list[_Target] = []
    if basis.state == "covered" and basis.end is not None and basis.contract_id is not None:
        found.append(("contract_end", basis.contract_id, basis.end))
    for r in requirements:
        if r.state == "valid" and r.valid_until is not None:
            found.append(("check_expiry", r.check, r.valid_until))
    for g in grants:
        if not g.must_revoke and g.expires_at is not None:
            found.append(("grant_expiry", g.grant_id, g.expires_at.date()))
    return found


def due_reminders(
    view: PolicyView,
    policy: PolicyDocument,
    requirements: tuple[Requirement, ...],
    grants: tuple[GrantVerdict, ...],
    basis: Coverage,
    today: date,
) -> tuple[Reminder, ...]:
    due: list[Reminder] = []
    for kind, subject, target in _targets(view, requirements, grants, basis):
        # An offset is reached from `offset` days before the target until the target itself:
        # compared as day counts, without computing each offset's date.
        left = between(today, target)
        reached = [o for o in policy.reminder_offsets_days if o >= left] if left >= 0 else []
        if reached:
            due.append(Reminder(kind, subject, target, min(reached)))
    return tuple(sorted(due))


def as_timer(key: TimerKey) -> Timer:
    day, kind, subject = key
    return Timer(date.fromordinal(day), kind, subject)


def timer_keys(view: PolicyView, policy: PolicyDocument, evaluation: Evaluation) -> list[TimerKey]:
    """The days after the evaluation's on which evaluating again can give a different
    answer, in order: what the evaluation concluded stays true until the first of them.
    As keys (`as_timer` makes a `Timer` of one): a publication makes a score of them per
    contributor and, usually, only compares them with the ones stored; day numbers are
    added, deduplicated and sorted in C, where building dates and `Timer`s took half of it."""
    today = evaluation.as_of.toordinal()
    requirements, grants = evaluation.requirements, evaluation.grants
    basis = coverage(view, evaluation.as_of)
    found: list[TimerKey] = []
    for kind, subject, target in _targets(view, requirements, grants, basis):
        timer_kind, day = _REMINDER_TIMER[kind], target.toordinal()
        found += [(day - o, timer_kind, subject) for o in policy.reminder_offsets_days]
    found += _contract_timers(view, grants, basis)
    found += _check_timers(requirements)
    found += [
        (g.expires_at.toordinal(), "grant_expiry", g.grant_id)
        for g in grants
        if g.expires_at is not None
    ]
    # A day past the calendar's last is held at it, as `days.shift` holds dates.
    return sorted({k if k[0] <= _LAST else (_LAST, k[1], k[2]) for k in found if k[0] > today})


def _contract_timers(
    view: PolicyView, grants: tuple[GrantVerdict, ...], basis: Coverage
) -> Iterable[TimerKey]:
    cid = basis.contract_id or ""
    if basis.next_start is not None:
        yield (basis.next_start.toordinal(), "contract_start", basis.next_contract_id or "")
    if basis.state == "covered" and basis.end is not None:
        yield (basis.end.toordinal(), "contract_end", cid)
        if grants:
            # The day after the end, access still held becomes a violation.
            yield (basis.end.toordinal() + 1, "contract_lapsed", cid)
    if view.lifecycle == "offboarded" and view.offboarded_on is not None and grants:
        yield (view.offboarded_on.toordinal() + 1, "offboarding_lapsed", view.id)


def _check_timers(requirements: tuple[Requirement, ...]) -> Iterable[TimerKey]:
    for r in requirements:
        if r.valid_until is not None and r.state == "valid":
            yield (r.valid_until.toordinal() + 1, "check_expiry", r.check)
        if r.due is not None and r.due != r.valid_until:
            # The first day the consequence applies.
            yield (r.due.toordinal() + 1, "check_due", r.check)
