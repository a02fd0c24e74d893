"""Access checks with Cedar: generated rules, named reasons, and errors that fail loudly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.policy.domain import cedar
from services.policy.domain.cedar import (
    AccessRequest,
    PolicyEvaluationError,
    check_access,
    check_access_batch,
    compiled,
)
from services.policy.domain.cedar_policies import generate
from services.policy.domain.document import DEFAULT_POLICY, PolicyDocument, content_hash
from services.policy.domain.events import AccessDenied, AccessGranted
from services.policy.domain.view import PolicyView
from services.registry.domain.events import Suspended

from .support import SPONSOR, Stream, active, with_rules

TODAY = date(2025, 3, 3)
DAY = timedelta(days=1)


def ask(
    view: PolicyView, policy: PolicyDocument = DEFAULT_POLICY, **kw: object
) -> cedar.AccessAnswer:
    args: dict[str, object] = {
        "resource": "crm",
        "classification": "internal",
        "action": "access",
        "today": TODAY,
        "approvals": [SPONSOR],
    }
    args.update(kw)
    return check_access(view, policy, **args)  # type: ignore[arg-type]


def test_a_permit_names_the_rule_and_carries_its_provenance() -> None:
    view = active("contractor").view
    answer = ask(view)
    assert (answer.permit, answer.reasons) == (True, ["contractor.permit"])
    assert answer.policy_hash == content_hash(DEFAULT_POLICY)
    assert (answer.based_on_version, answer.as_of, answer.enforced) == (view.version, TODAY, True)


@pytest.mark.parametrize("action", ["access", "read", "write"])
def test_every_action_is_governed_alike(action: str) -> None:
    assert ask(active("contractor").view, action=action).permit


def test_lifecycle_rules_refuse_whatever_else_holds() -> None:
    s = active("contractor")
    s.add(Suspended(reason="investigation"))
    assert ask(s.view).reasons == ["lifecycle.suspended"]
    s.offboard()
    assert ask(s.view).reasons == ["lifecycle.offboarded"]
    onboarding = Stream("contractor").register().contract(date(2025, 12, 31)).pass_all()
    assert ask(onboarding.view).reasons == ["lifecycle.not_yet_active"]


def test_a_principal_of_a_type_the_policy_does_not_know_is_refused() -> None:
    view = replace(active("contractor").view, contributor_type="astronaut")
    assert ask(view).reasons == ["type.not_covered"]
    assert ask(PolicyView()).reasons == ["lifecycle.not_yet_active", "type.not_covered"]


def test_all_the_rules_that_refuse_are_named() -> None:
    answer = ask(active("contractor").view, classification="restricted", approvals=[])
    assert answer.reasons == ["contractor.approval_missing", "contractor.over_ceiling"]


def test_approval_must_come_from_the_sponsor() -> None:
    view = active("contractor").view
    assert ask(view, approvals=["someone-else"]).reasons == ["contractor.approval_missing"]
    assert ask(view, approvals=["", SPONSOR]).permit


def test_requested_duration_is_held_to_the_maximum_and_the_contract_end() -> None:
    view = active("contractor", contract_end=date(2025, 12, 31)).view
    assert ask(view, requested_until=TODAY + 90 * DAY).permit
    assert ask(view, requested_until=TODAY + 91 * DAY).reasons == ["contractor.over_max_duration"]
    partner = active("partner", contract_end=TODAY + 10 * DAY).view
    assert ask(partner, requested_until=TODAY + 11 * DAY).reasons == ["partner.beyond_contract_end"]


def test_access_stops_with_the_contract_and_with_lapsed_strict_checks() -> None:
    view = active("contractor", contract_end=TODAY, checks_valid_until=TODAY).view
    assert ask(view).permit  # the last day of both still counts
    assert ask(view, today=TODAY + DAY).reasons == [
        "contractor.compliance_lapsed",
        "contractor.no_contract_in_force",
    ]


def test_a_lapsed_check_that_only_blocks_activation_does_not_refuse_access() -> None:
    s = active("employee", contract_end=None)
    s.check("background_check", outcome="failed")
    assert ask(s.view, classification="restricted").permit


def test_a_policy_change_changes_the_answer() -> None:
    view = active("contractor").view
    lower = with_rules({"types": {"contractor": {"access": {"ceiling": "internal"}}}})
    assert ask(view, classification="confidential").permit
    assert ask(view, lower, classification="confidential").reasons == ["contractor.over_ceiling"]


def test_an_unknown_action_is_an_evaluation_error_not_a_denial() -> None:
    with pytest.raises(PolicyEvaluationError, match="does not exist in the supplied schema"):
        ask(active("contractor").view, action="delete")


def test_a_document_that_cannot_be_written_as_cedar_is_an_evaluation_error() -> None:
    rules = DEFAULT_POLICY.types["partner"]
    bad = PolicyDocument.model_construct(
        mode="enforced", reminder_offsets_days=(), types={'x" || true || "': rules}
    )
    with pytest.raises(PolicyEvaluationError, match="cannot be written into a Cedar policy"):
        ask(active("partner").view, bad, policy_hash="0" * 64)


def test_a_batch_answers_each_request_in_order() -> None:
    view = active("contractor").view
    answers = check_access_batch(
        view,
        DEFAULT_POLICY,
        [AccessRequest("crm", "internal"), AccessRequest("vault", "restricted", "read")],
        TODAY,
        [SPONSOR],
    )
    assert [(a.request.resource, a.permit) for a in answers] == [("crm", True), ("vault", False)]
    with pytest.raises(PolicyEvaluationError, match="two classifications"):
        check_access_batch(
            view,
            DEFAULT_POLICY,
            [AccessRequest("crm", "internal"), AccessRequest("crm", "public")],
            TODAY,
        )


def test_the_policy_set_is_generated_once_per_policy_hash() -> None:
    first = compiled(DEFAULT_POLICY)
    assert compiled(DEFAULT_POLICY) is first
    assert compiled(DEFAULT_POLICY.model_copy()) is first  # same content, same hash
    assert first.text == generate(DEFAULT_POLICY)
    assert '@id("contractor.over_ceiling")' in first.text


def test_answers_become_decision_events() -> None:
    view = active("contractor").view
    record_only = with_rules({"mode": "record_only"})
    granted = ask(view, record_only).to_event()
    assert isinstance(granted, AccessGranted)
    assert (granted.enforced, granted.reasons) == (False, ("contractor.permit",))
    denied = ask(view, classification="restricted").to_event()
    assert isinstance(denied, AccessDenied)
    assert denied.enforced
    assert denied.based_on_version == view.version


def test_a_contract_that_ran_out_ends_access_even_where_none_is_required() -> None:
    s = active("digital_agent", contract_end=TODAY)
    assert ask(s.view, classification="public").permit
    assert ask(s.view, classification="public", today=TODAY + DAY).reasons == [
        "digital_agent.contract_ended"
    ]


def test_on_the_last_day_of_the_contract_access_still_counts_while_the_grant_must_go() -> None:
    s = active("contractor", contract_end=TODAY).grant(expires=TODAY + DAY, on=TODAY)
    assert s.evaluate(TODAY).grants[0].revoke == ("contract_ended",)
    assert ask(s.view).permit
