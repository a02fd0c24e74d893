"""The policy decision catalogue."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.policy.domain.document import DEFAULT_POLICY, content_hash
from services.policy.domain.events import (
    AccessRevocationRequired,
    PolicyPublished,
    ReminderDue,
    catalogue,
)
from shared.catalogue import InvalidEventData

HASH = content_hash(DEFAULT_POLICY)


def stamp(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "policy_hash": HASH,
        "based_on_version": 3,
        "mode": "enforced",
        "enforced": True,
        "as_of": date(2025, 3, 3),
    }
    return fields | overrides


def test_the_catalogue_holds_every_policy_event_type() -> None:
    assert sorted(cls.TYPE for cls in catalogue) == [
        "org.workforce.policy.access_denied.v1",
        "org.workforce.policy.access_granted.v1",
        "org.workforce.policy.access_revocation_required.v1",
        "org.workforce.policy.compliance_status_changed.v1",
        "org.workforce.policy.dei_programs_extended.v1",
        "org.workforce.policy.policy_published.v1",
        "org.workforce.policy.reminder_due.v1",
        "org.workforce.policy.requirements_assigned.v1",
        "org.workforce.policy.violation_detected.v1",
        "org.workforce.policy.violation_resolved.v1",
    ]


def test_a_published_policy_carries_its_document_and_a_matching_hash() -> None:
    document = DEFAULT_POLICY.model_dump(mode="json")
    published = PolicyPublished(
        version=1,
        author="ops-1",
        reason="Initial rules",
        content_hash=HASH,
        mode="enforced",
        document=document,
    )
    assert catalogue.parse(published.TYPE, published.model_dump(mode="json")) == published
    with pytest.raises(ValueError, match="content_hash is not the hash of document"):
        PolicyPublished(
            version=1,
            author="ops-1",
            reason="x",
            content_hash="0" * 64,
            mode="enforced",
            document=document,
        )
    with pytest.raises(ValueError, match="mode differs"):
        PolicyPublished(
            version=1, author="a", reason="x", content_hash=HASH, mode="draft", document=document
        )


def test_enforced_is_true_exactly_in_enforced_mode() -> None:
    data: dict[str, Any] = {"kind": "contract_end", "subject_ref": "k-1"}
    data |= {"target_date": "2025-03-31"}
    data |= {"offset_days": 30, "days_left": 28}
    assert ReminderDue.model_validate(data | stamp()).enforced
    assert not ReminderDue.model_validate(data | stamp(mode="record_only", enforced=False)).enforced
    with pytest.raises(InvalidEventData):
        catalogue.parse(ReminderDue.TYPE, data | stamp(mode="record_only"))


def test_a_revocation_quotes_its_first_reason() -> None:
    data: dict[str, Any] = {"grant_id": "g-1", "resource": "crm", "classification": "internal"}
    ok = AccessRevocationRequired.model_validate(
        data | stamp(reason="offboarded", reasons=["offboarded", "expired"])
    )
    assert ok.reasons == ("offboarded", "expired")
    with pytest.raises(ValueError, match="first of reasons"):
        AccessRevocationRequired.model_validate(
            data | stamp(reason="expired", reasons=["offboarded", "expired"])
        )


def test_a_decision_must_name_a_real_hash_and_version() -> None:
    data: dict[str, Any] = {"grant_id": "g-1", "resource": "crm", "classification": "internal"}
    data |= {"reason": "expired", "reasons": ["expired"]}
    with pytest.raises(ValueError, match="policy_hash"):
        AccessRevocationRequired.model_validate(data | stamp(policy_hash="abc"))
    with pytest.raises(ValueError, match="based_on_version"):
        AccessRevocationRequired.model_validate(data | stamp(based_on_version=-1))
