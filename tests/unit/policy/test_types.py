"""Each of the eight contributor types under the default policy: the handbook's table."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.policy.domain.cedar import check_access
from services.policy.domain.document import DEFAULT_POLICY
from services.registry.domain.events import OnboardingStarted
from services.registry.domain.values import CLASSIFICATIONS, Classification

from .support import SPONSOR, Stream, active

TODAY = date(2025, 3, 3)

REQUIRED = {
    "employee": {"identity_verification", "background_check", "nda", "security_training"},
    "contractor": {
        "identity_verification",
        "background_check",
        "nda",
        "security_training",
        "misclassification_assessment",
    },
    "agency_worker": {"identity_verification", "nda", "security_training"},
    "gig_worker": {"identity_verification", "tax_form"},
    "subcontractor": {"insurance_certificate", "nda"},
    "partner": {"nda"},
    "app_developer": {"developer_agreement", "app_security_review"},
    "digital_agent": {"agent_security_review"},
}
DEI = {
    "employee": {
        "inclusion_training",
        "employee_resource_groups",
        "mentoring",
        "accessibility_accommodations",
        "pay_equity_review",
    },
    "contractor": {"inclusion_training", "accessibility_accommodations"},
    "agency_worker": {
        "inclusion_training",
        "accessibility_accommodations",
        "employee_resource_groups",
    },
    "gig_worker": {"accessibility_accommodations"},
    "subcontractor": set(),
    "partner": {"employee_resource_groups"},
    "app_developer": set(),
    "digital_agent": set(),
}
CEILING: dict[str, Classification] = {
    "employee": "restricted",
    "contractor": "confidential",
    "agency_worker": "internal",
    "gig_worker": "public",
    "subcontractor": "internal",
    "partner": "internal",
    "app_developer": "public",
    "digital_agent": "internal",
}
TYPES = sorted(REQUIRED)


def system_for(contributor_type: str) -> str:
    return "sandbox" if contributor_type == "app_developer" else "crm"


def test_the_table_covers_every_default_type() -> None:
    assert set(TYPES) == set(DEFAULT_POLICY.types)


@pytest.mark.parametrize("contributor_type", TYPES)
def test_requirements_assigned(contributor_type: str) -> None:
    e = active(contributor_type).evaluate(TODAY)
    assert {r.check for r in e.requirements} == REQUIRED[contributor_type]
    assert e.compliance.status == "compliant"
    assert all(r.state == "valid" for r in e.requirements)


@pytest.mark.parametrize("contributor_type", TYPES)
def test_nothing_done_yet_is_pending_while_onboarding(contributor_type: str) -> None:
    s = Stream(contributor_type).register().add(OnboardingStarted())
    e = s.evaluate(TODAY)
    assert e.compliance.status == "pending"
    assert set(e.compliance.missing) == REQUIRED[contributor_type]


@pytest.mark.parametrize("contributor_type", TYPES)
def test_dei_programs_extended(contributor_type: str) -> None:
    e = active(contributor_type).evaluate(TODAY)
    assert set(e.dei_programs) == DEI[contributor_type]


@pytest.mark.parametrize("contributor_type", TYPES)
def test_access_up_to_the_ceiling_is_permitted_and_above_it_denied(contributor_type: str) -> None:
    s = active(contributor_type)
    ceiling = CLASSIFICATIONS.index(CEILING[contributor_type])
    for level in CLASSIFICATIONS:
        answer = check_access(
            s.view, DEFAULT_POLICY, system_for(contributor_type), level, "access", TODAY, [SPONSOR]
        )
        if CLASSIFICATIONS.index(level) <= ceiling:
            assert answer.permit, (level, answer.reasons)
            assert answer.reasons == [f"{contributor_type}.permit"]
        else:
            assert not answer.permit
            assert answer.reasons == [f"{contributor_type}.over_ceiling"]


@pytest.mark.parametrize("contributor_type", [t for t in TYPES if CEILING[t] != "restricted"])
def test_a_grant_above_the_ceiling_must_be_revoked(contributor_type: str) -> None:
    s = active(contributor_type).grant(
        resource=system_for(contributor_type), classification="restricted"
    )
    [verdict] = s.evaluate(TODAY).grants
    assert "over_ceiling" in verdict.revoke


def test_sponsor_approval_is_needed_where_the_table_says_so() -> None:
    needs = {n for n, t in DEFAULT_POLICY.types.items() if t.access.approval_required}
    assert needs == {"contractor", "digital_agent"}
    for name in TYPES:
        answer = check_access(
            active(name).view, DEFAULT_POLICY, system_for(name), "public", "read", TODAY
        )
        assert answer.permit == (name not in needs)
        if name in needs:
            assert answer.reasons == [f"{name}.approval_missing"]


def test_app_developers_reach_only_the_portal_and_the_sandbox() -> None:
    view = active("app_developer").view
    answer = check_access(view, DEFAULT_POLICY, "crm", "public", "access", TODAY)
    assert (answer.permit, answer.reasons) == (False, ["app_developer.system_not_allowed"])
    assert check_access(view, DEFAULT_POLICY, "developer_portal", "public", "access", TODAY).permit


def test_types_without_a_contract_requirement_need_none() -> None:
    for name in ("app_developer", "digital_agent"):
        s = active(name, contract_end=None)
        s.view = replace(s.view, contracts={})
        answer = check_access(
            s.view, DEFAULT_POLICY, system_for(name), "public", "access", TODAY, [SPONSOR]
        )
        assert answer.permit, answer.reasons
    s = active("contractor")
    s.view = replace(s.view, contracts={})
    answer = check_access(s.view, DEFAULT_POLICY, "crm", "public", "access", TODAY, [SPONSOR])
    assert answer.reasons == ["contractor.no_contract_in_force"]
