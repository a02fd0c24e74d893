"""Properties over random histories and random policies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.policy.domain.cedar import check_access
from services.policy.domain.coverage import coverage
from services.policy.domain.document import PolicyDocument, content_hash
from services.policy.domain.evaluate import decisions, evaluate, unchanged_types
from services.policy.domain.schedule import as_timer, timer_keys
from services.policy.domain.view import PolicyView, apply

from .strategies import days, histories, policies

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fold(history: list[tuple[tuple[str, Any], date]]) -> PolicyView:
    view = PolicyView()
    for version, ((event_type, data), day) in enumerate(history, start=1):
        view = apply(view, event_type, data, datetime.combine(day, time(9), tzinfo=UTC), version)
    return view


@FAST
@given(histories, policies, days)
def test_evaluate_never_raises_and_repeating_it_is_not_news(
    history: list[tuple[tuple[str, Any], date]], policy: PolicyDocument, today: date
) -> None:
    view = fold(history)
    e = evaluate(view, policy, content_hash(policy), today)
    assert e == evaluate(view, policy, content_hash(policy), today)
    assert decisions(e, e) == []
    found = [as_timer(k) for k in timer_keys(view, policy, e)]
    assert all(t.due > today for t in found)
    assert list(found) == sorted(set(found))
    for d in decisions(None, e):
        assert (d.policy_hash, d.based_on_version) == (e.policy_hash, view.version)
        assert d.enforced == (policy.mode == "enforced")


@FAST
@given(histories, policies, policies, days, days)
def test_decisions_between_any_two_evaluations_are_well_formed(
    history: list[tuple[tuple[str, Any], date]],
    old: PolicyDocument,
    new: PolicyDocument,
    day: date,
    later: date,
) -> None:
    view = fold(history)
    before = evaluate(view, old, content_hash(old), day)
    after = evaluate(view, new, content_hash(new), later)
    for d in decisions(before, after):
        assert d.policy_hash == content_hash(new)


@FAST
@given(histories, policies, policies, days)
def test_a_type_whose_rules_a_new_policy_keeps_is_evaluated_the_same(
    history: list[tuple[tuple[str, Any], date]],
    policy: PolicyDocument,
    other: PolicyDocument,
    today: date,
) -> None:
    """What lets a publication skip the contributors it cannot affect."""
    view = fold(history)
    kept = view.contributor_type
    # The other policy's rules for every type but the contributor's, which stay as they are.
    own = {kept: policy.types[kept]} if kept in policy.types else {}
    mixed = policy.model_copy(update={"types": {**other.types, **own}})
    unchanged = unchanged_types(policy, mixed)
    assert (kept in unchanged) == (kept in policy.types)
    if kept in unchanged:
        assert evaluate(view, policy, "h", today) == evaluate(view, mixed, "h", today)


@FAST
@given(policies, policies)
def test_a_new_mode_or_new_reminder_offsets_change_every_type(
    policy: PolicyDocument, other: PolicyDocument
) -> None:
    unchanged = unchanged_types(policy, other.model_copy(update={"types": policy.types}))
    if (policy.mode, policy.reminder_offsets_days) == (other.mode, other.reminder_offsets_days):
        assert unchanged == frozenset(policy.types)
    else:
        assert unchanged == frozenset()


@settings(max_examples=100, deadline=None)
@given(histories, policies, days, st.booleans())
def test_cedar_answers_for_every_view_and_agrees_with_evaluate(
    history: list[tuple[tuple[str, Any], date]],
    policy: PolicyDocument,
    today: date,
    approved: bool,
) -> None:
    view = fold(history)
    approvals = [view.sponsor or ""] if approved else []
    e = evaluate(view, policy, content_hash(policy), today)
    # Revoked today for these reasons, the same access asked for again is refused. (On a
    # contract's last day the grant is revoked but access still counts until the day ends.)
    hard = {"offboarded", "non_compliant", "over_ceiling", "not_allowed_system"}
    if coverage(view, today).state == "ended":
        hard.add("contract_ended")
    for g in e.grants:
        answer = check_access(view, policy, g.resource, g.classification, "read", today, approvals)
        if hard & set(g.revoke):
            assert not answer.permit, (g, answer.reasons)
        assert answer.reasons
