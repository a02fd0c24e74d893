"""Decision events from the difference between two evaluations of one contributor.

Only change is news: re-evaluating on a timer, on a redelivered event or after a policy
change that does not touch this contributor emits nothing. A change of enforcement (a
record-only policy becoming enforced) is itself a change: everything that holds is stated
again, now to be acted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from services.policy.domain.days import between
from services.policy.domain.document import Consequence
from services.policy.domain.evaluation import Compliance, Evaluation, GrantVerdict, Violation
from services.policy.domain.events import (
    AccessRevocationRequired,
    ComplianceStatusChanged,
    DecisionEvent,
    DeiProgramsExtended,
    ReminderDue,
    RequirementFacts,
    RequirementsAssigned,
    ViolationDetected,
    ViolationResolved,
)
from services.registry.domain.values import CheckName


def decisions(previous: Evaluation | None, current: Evaluation) -> list[DecisionEvent]:
    if previous is not None and previous.enforced != current.enforced:
        previous = None
    base: dict[str, Any] = {
        "policy_hash": current.policy_hash,
        "based_on_version": current.based_on_version,
        "mode": current.mode,
        "enforced": current.enforced,
        "as_of": current.as_of,
    }
    found: list[DecisionEvent] = []
    found += _requirements(previous, current, base)
    found += _compliance(previous, current, base)
    found += _dei(previous, current, base)
    found += _revocations(previous, current, base)
    found += _violations(previous, current, base)
    found += _reminders(previous, current, base)
    return found


def _requirements(
    previous: Evaluation | None, current: Evaluation, base: Mapping[str, Any]
) -> list[DecisionEvent]:
    def facts(e: Evaluation | None) -> list[tuple[CheckName, Consequence, date | None]]:
        return [(r.check, r.consequence, r.due) for r in e.requirements] if e is not None else []

    # Compared as plain tuples: the pydantic models are built only for the event, which
    # most re-evaluations do not emit.
    now = facts(current)
    if now == facts(previous):
        return []
    requirements = tuple(RequirementFacts(check=c, consequence=k, due=d) for c, k, d in now)
    return [
        RequirementsAssigned(
            contributor_type=current.contributor_type, requirements=requirements, **base
        )
    ]


def _compliance(
    previous: Evaluation | None, current: Evaluation, base: Mapping[str, Any]
) -> list[DecisionEvent]:
    c = current.compliance
    before = previous.compliance if previous is not None else None
    # `suspends_access` and `blocking` follow from the lists and the policy: not news alone.
    if before is not None and _news(before) == _news(c):
        return []
    return [
        ComplianceStatusChanged(
            status=c.status,
            previous_status=before.status if before is not None else None,
            missing=c.missing,
            failed=c.failed,
            expired=c.expired,
            in_grace=c.in_grace,
            **base,
        )
    ]


def _news(c: Compliance) -> tuple[object, ...]:
    """What of a compliance is news when it changes."""
    return (c.status, c.missing, c.failed, c.expired, c.in_grace)


def _dei(
    previous: Evaluation | None, current: Evaluation, base: Mapping[str, Any]
) -> list[DecisionEvent]:
    before = set(previous.dei_programs) if previous is not None else set()
    now = set(current.dei_programs)
    if now == before:
        return []
    return [
        DeiProgramsExtended(
            programs=current.dei_programs,
            added=tuple(sorted(now - before)),
            removed=tuple(sorted(before - now)),
            **base,
        )
    ]


def _revocations(
    previous: Evaluation | None, current: Evaluation, base: Mapping[str, Any]
) -> list[DecisionEvent]:
    before = {g.grant_id: g.revoke for g in previous.revocations} if previous else {}
    return [
        AccessRevocationRequired(
            grant_id=g.grant_id,
            resource=g.resource,
            classification=g.classification,
            reason=g.revoke[0],
            reasons=g.revoke,
            **base,
        )
        for g in current.revocations
        if before.get(g.grant_id) != g.revoke
    ]


def _violations(
    previous: Evaluation | None, current: Evaluation, base: Mapping[str, Any]
) -> list[DecisionEvent]:
    def by_key(e: Evaluation | None) -> dict[tuple[str, str], Violation]:
        return {(v.kind, v.subject_ref): v for v in e.violations} if e is not None else {}

    before, now = by_key(previous), by_key(current)
    grants = {g.grant_id: g for g in current.grants}
    found: list[DecisionEvent] = [
        ViolationDetected(
            kind=v.kind,
            subject_ref=v.subject_ref,
            since=v.since,
            days=v.days,
            details=_details(grants.get(v.subject_ref)),
            **base,
        )
        for key, v in now.items()
        # A violation that simply lasts another day is not news; a corrected start is.
        if key not in before or before[key].since != v.since
    ]
    found += [
        ViolationResolved(kind=v.kind, subject_ref=v.subject_ref, **base)
        for key, v in before.items()
        if key not in now
    ]
    return found


def _details(grant: GrantVerdict | None) -> dict[str, str]:
    if grant is None:
        return {}
    return {"resource": grant.resource, "classification": grant.classification}


def _reminders(
    previous: Evaluation | None, current: Evaluation, base: Mapping[str, Any]
) -> list[DecisionEvent]:
    before = set(previous.reminders) if previous is not None else set()
    return [
        ReminderDue(
            kind=r.kind,
            subject_ref=r.subject_ref,
            target_date=r.target,
            offset_days=r.offset_days,
            days_left=between(current.as_of, r.target),
            **base,
        )
        for r in current.reminders
        if r not in before
    ]
