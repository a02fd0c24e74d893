"""Evaluate one contributor against the policy on a given day. Pure: the day is an argument.

`evaluate` says what holds now (requirements, compliance, which grants must go and why,
violations, reminders due; `schedule.timer_keys` says when to look again); `decisions` turns
the difference between two evaluations into decision events, so re-evaluating never
repeats itself.
"""

from __future__ import annotations

from datetime import date

from services.policy.domain.coverage import Coverage, coverage
from services.policy.domain.days import between, shift
from services.policy.domain.decisions import decisions
from services.policy.domain.document import PolicyDocument, RequiredCheck, TypeRules, rank
from services.policy.domain.evaluation import (
    LAPSED,
    CheckState,
    Compliance,
    ComplianceStatus,
    Evaluation,
    GrantVerdict,
    Requirement,
    RevocationReason,
    Violation,
    ViolationKind,
)
from services.policy.domain.schedule import due_reminders
from services.policy.domain.view import CheckOnFile, GrantHeld, PolicyView
from services.registry.domain.values import CheckName

__all__ = ["Evaluation", "assess", "decisions", "evaluate", "unchanged_types"]

_OBLIGED = frozenset({"active", "suspended"})
"""Lifecycles in which a check never done becomes overdue; onboarding is for doing them."""


def evaluate(view: PolicyView, policy: PolicyDocument, policy_hash: str, today: date) -> Evaluation:
    rules = policy.types.get(view.contributor_type)
    requirements, compliance = assess(view, policy, today)
    basis = coverage(view, today)
    grants = tuple(
        _verdict(g, view, rules, compliance, basis, today)
        for g in sorted(view.grants.values(), key=lambda g: g.grant_id)
    )
    dei = rules.dei_programs if rules is not None else ()
    return Evaluation(
        contributor_id=view.id,
        contributor_type=view.contributor_type,
        policy_hash=policy_hash,
        mode=policy.mode,
        based_on_version=view.version,
        as_of=today,
        requirements=requirements,
        compliance=compliance,
        dei_programs=dei,
        grants=grants,
        violations=_violations(view, rules, compliance, grants, basis, today),
        reminders=due_reminders(view, policy, requirements, grants, basis, today),
    )


def unchanged_types(previous: PolicyDocument, current: PolicyDocument) -> frozenset[str]:
    """The contributor types whose evaluation on a given day is the same under both policies
    (but for the policy hash it records). `evaluate` reads a policy only through the rules
    of the contributor's type, the mode and the reminder offsets: keep it so, or widen this."""
    if (previous.mode, previous.reminder_offsets_days) != (
        current.mode,
        current.reminder_offsets_days,
    ):
        return frozenset()
    return frozenset(t for t, rules in current.types.items() if previous.types.get(t) == rules)


def assess(
    view: PolicyView, policy: PolicyDocument, today: date
) -> tuple[tuple[Requirement, ...], Compliance]:
    """The checks required of the contributor on `today` and where they stand."""
    rules = policy.types.get(view.contributor_type)
    # Nothing is required of someone who no longer contributes; their grants still go.
    if rules is None or view.lifecycle == "offboarded":
        return (), _compliance(())
    requirements = _requirements(view, rules, today)
    return requirements, _compliance(requirements)


def _requirements(view: PolicyView, rules: TypeRules, today: date) -> tuple[Requirement, ...]:
    return tuple(
        _requirement(name, spec, view.checks.get(name), view, today)
        for name, spec in sorted(rules.compliance.checks.items())
    )


def _requirement(
    name: CheckName, spec: RequiredCheck, on_file: CheckOnFile | None, view: PolicyView, today: date
) -> Requirement:
    if on_file is None or on_file.outcome == "pending":
        since = view.requirements_since
        due = shift(since, spec.grace_days) if since is not None else None
        late = due is not None and today > due and view.lifecycle in _OBLIGED
        return Requirement(name, spec.consequence, due, "overdue" if late else "missing")
    if on_file.outcome == "failed":
        return Requirement(name, spec.consequence, None, "failed")
    limits = [on_file.valid_until] if on_file.valid_until is not None else []
    if spec.validity_days is not None:
        limits.append(shift(on_file.recorded_on, spec.validity_days))
    last = min(limits, default=None)
    if last is None:
        return Requirement(name, spec.consequence, None, "valid")
    due = shift(last, spec.grace_days)
    state: CheckState = "valid" if today <= last else "in_grace" if today <= due else "expired"
    return Requirement(name, spec.consequence, due, state, last)


def _compliance(requirements: tuple[Requirement, ...]) -> Compliance:
    def having(*states: CheckState) -> tuple[CheckName, ...]:
        return tuple(r.check for r in requirements if r.state in states)

    missing, failed, expired = having("missing", "overdue"), having("failed"), having("expired")
    in_grace = having("in_grace")
    status: ComplianceStatus = "compliant"
    if failed or having("overdue"):
        status = "non_compliant"
    elif expired:
        status = "expired"
    elif missing or in_grace:
        status = "pending"
    return Compliance(
        status=status,
        missing=missing,
        failed=failed,
        expired=expired,
        in_grace=in_grace,
        suspends_access=any(
            r.state in LAPSED and r.consequence == "suspend_access" for r in requirements
        ),
        blocking=tuple(
            r.check
            for r in requirements
            if r.consequence == "block_activation" and r.state not in ("valid", "in_grace")
        ),
    )


def _verdict(
    grant: GrantHeld,
    view: PolicyView,
    rules: TypeRules | None,
    compliance: Compliance,
    basis: Coverage,
    today: date,
) -> GrantVerdict:
    expiry = grant.expires_at.date() if grant.expires_at is not None else None
    checks: list[tuple[RevocationReason, bool]] = [
        ("offboarded", view.lifecycle == "offboarded"),
        ("contract_ended", basis.ends_on_or_before(today)),
        ("expired", expiry is not None and expiry <= today),
    ]
    if rules is not None:
        access = rules.access
        longest = access.max_grant_days
        checks += [
            ("non_compliant", compliance.suspends_access),
            ("over_ceiling", rank(grant.classification) > rank(access.ceiling)),
            (
                "not_allowed_system",
                access.allowed_systems != "*" and grant.resource not in access.allowed_systems,
            ),
            (
                "over_max_duration",
                longest is not None
                and (expiry is None or between(grant.granted_on, expiry) > longest),
            ),
        ]
    order: tuple[RevocationReason, ...] = (
        "offboarded",
        "contract_ended",
        "non_compliant",
        "over_ceiling",
        "expired",
        "not_allowed_system",
        "over_max_duration",
    )
    found = {reason for reason, applies in checks if applies}
    return GrantVerdict(
        grant.grant_id,
        grant.resource,
        grant.classification,
        grant.expires_at,
        tuple(r for r in order if r in found),
    )


def _violations(
    view: PolicyView,
    rules: TypeRules | None,
    compliance: Compliance,
    grants: tuple[GrantVerdict, ...],
    basis: Coverage,
    today: date,
) -> tuple[Violation, ...]:
    if not view.registered:
        return ()
    found: list[Violation] = []
    if rules is None:
        found.append(Violation("type_not_covered", view.contributor_type))
    contract_needed = rules is not None and rules.access.requires_contract
    for g in grants:
        if basis.state == "ended" and basis.end is not None:
            found.append(_since("access_after_contract_end", g.grant_id, basis.end, today))
        gone = view.offboarded_on if view.lifecycle == "offboarded" else None
        if gone is not None and today > gone:
            found.append(_since("access_after_offboarding", g.grant_id, gone, today))
        if contract_needed and basis.state in ("none", "not_started"):
            found.append(Violation("access_without_contract", g.grant_id))
    if view.lifecycle == "active":
        found += [Violation("active_without_required_check", c) for c in compliance.blocking]
    if rules is not None:
        outside = view.dei_enrolments - set(rules.dei_programs)
        found += [Violation("dei_enrolment_not_extended", p) for p in sorted(outside)]
    return tuple(sorted(found))


def _since(kind: ViolationKind, subject: str, last_allowed: date, today: date) -> Violation:
    return Violation(kind, subject, shift(last_allowed, 1), between(last_allowed, today))
