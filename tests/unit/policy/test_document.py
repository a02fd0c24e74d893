"""The policy document: validation with exact JSON pointers, normalisation, hash, defaults."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.policy.domain.document import (
    DEFAULT_POLICY,
    PolicyInvalid,
    content_hash,
    validate_policy,
)
from services.policy.domain.pointers import PointerError, pointer
from services.registry.domain.types import DEFAULT_CONTRIBUTOR_TYPES

KNOWN = set(DEFAULT_CONTRIBUTOR_TYPES.names)


def raw_default() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_POLICY.model_dump(mode="json"))


def errors_of(raw: Any, known: set[str] = KNOWN) -> list[tuple[str, str]]:
    with pytest.raises(PolicyInvalid) as caught:
        validate_policy(raw, known)
    return [(e.path, e.reason) for e in caught.value.errors]


def paths_of(raw: Any, known: set[str] = KNOWN) -> list[str]:
    return [path for path, _ in errors_of(raw, known)]


def test_the_default_policy_validates_against_the_default_types() -> None:
    assert validate_policy(raw_default(), KNOWN) == DEFAULT_POLICY


def test_a_wrong_ceiling_is_reported_at_its_exact_path() -> None:
    raw = raw_default()
    raw["types"]["contractor"]["access"]["ceiling"] = "secret"
    [(path, reason)] = errors_of(raw)
    assert path == "/types/contractor/access/ceiling"
    assert "'confidential'" in reason


def test_rules_for_an_unknown_type_are_one_error_at_the_type() -> None:
    raw = raw_default()
    raw["types"]["Robot Overlord"] = {"access": {"ceiling": "nope"}}
    assert errors_of(raw) == [("/types/Robot Overlord", "unknown contributor type")]


def test_a_known_type_without_rules_is_refused() -> None:
    raw = raw_default()
    del raw["types"]["partner"]
    assert errors_of(raw) == [("/types/partner", "no rules for contributor type")]


def test_every_error_is_reported_at_once_sorted_by_path() -> None:
    raw = raw_default()
    raw["mode"] = "yolo"
    raw["reminder_offsets_days"] = [30, 0]
    contractor = raw["types"]["contractor"]
    contractor["compliance"]["checks"]["nda"]["grace_days"] = -1
    contractor["compliance"]["checks"]["horoscope"] = {}
    contractor["compliance"]["strictness"] = "lax"
    contractor["access"]["allowed_systems"] = "everything"
    contractor["access"]["max_grant_days"] = 0
    contractor["dei_programs"] = ["mentoring", "mentoring"]
    del raw["types"]["gig_worker"]["access"]
    raw["types"]["employee"]["surprise"] = True
    assert paths_of(raw) == [
        "/mode",
        "/reminder_offsets_days/1",
        "/types/contractor/access/allowed_systems",
        "/types/contractor/access/max_grant_days",
        "/types/contractor/compliance/checks/horoscope",
        "/types/contractor/compliance/checks/nda/grace_days",
        "/types/contractor/compliance/strictness",
        "/types/contractor/dei_programs",
        "/types/employee/surprise",
        "/types/gig_worker/access",
    ]


def test_reasons_are_readable() -> None:
    raw = raw_default()
    raw["types"]["contractor"]["access"]["allowed_systems"] = "everything"
    raw["types"]["contractor"]["dei_programs"] = ["mentoring", "mentoring"]
    del raw["types"]["gig_worker"]["access"]
    raw["types"]["employee"]["surprise"] = True
    assert errors_of(raw) == [
        ("/types/contractor/access/allowed_systems", 'must be "*" or a list of system names'),
        ("/types/contractor/dei_programs", "values must be unique"),
        ("/types/employee/surprise", "Extra inputs are not permitted"),
        ("/types/gig_worker/access", "Field required"),
    ]


def test_a_bad_system_name_points_into_the_list() -> None:
    raw = raw_default()
    raw["types"]["app_developer"]["access"]["allowed_systems"] = ["sandbox", "Not A System"]
    assert paths_of(raw) == ["/types/app_developer/access/allowed_systems/1"]


def test_a_document_that_is_not_an_object_is_an_error_at_the_root() -> None:
    assert paths_of([]) == [""]
    assert paths_of({}) == ["/mode", "/types"]


def test_pointer_segments_are_escaped() -> None:
    assert pointer(["types", "a/b~c", 0]) == "/types/a~1b~0c/0"


def test_the_error_message_lists_the_first_errors() -> None:
    raw = raw_default()
    raw["mode"] = "yolo"
    with pytest.raises(PolicyInvalid, match=r"/mode: Input should be"):
        validate_policy(raw, KNOWN)


def test_a_check_without_a_consequence_takes_the_strictness_default() -> None:
    raw = raw_default()
    for name, strictness, expected in [
        ("contractor", "strict", "suspend_access"),
        ("employee", "standard", "block_activation"),
        ("partner", "light", "notify"),
    ]:
        compliance = raw["types"][name]["compliance"]
        compliance["strictness"] = strictness
        compliance["checks"] = {"nda": {"grace_days": 3}}
        doc = validate_policy(copy.deepcopy(raw), KNOWN)
        assert doc.types[name].compliance.checks["nda"].consequence == expected


def test_set_like_lists_are_normalised_so_order_does_not_change_the_hash() -> None:
    raw = raw_default()
    raw["reminder_offsets_days"] = [7, 30, 14]
    raw["types"]["contractor"]["dei_programs"].reverse()
    raw["types"]["app_developer"]["access"]["allowed_systems"].reverse()
    doc = validate_policy(raw, KNOWN)
    assert doc.reminder_offsets_days == (30, 14, 7)
    assert content_hash(doc) == content_hash(DEFAULT_POLICY)


def test_the_hash_is_sha256_hex_and_changes_with_the_rules() -> None:
    raw = raw_default()
    raw["types"]["contractor"]["access"]["ceiling"] = "internal"
    changed = validate_policy(raw, KNOWN)
    assert len(content_hash(DEFAULT_POLICY)) == 64
    assert content_hash(changed) != content_hash(DEFAULT_POLICY)
    assert content_hash(changed) == content_hash(validate_policy(raw, KNOWN))


def test_the_default_policy_follows_the_handbook_table() -> None:
    types = DEFAULT_POLICY.types
    assert DEFAULT_POLICY.mode == "enforced"
    assert {n: t.compliance.strictness for n, t in types.items()} == {
        "employee": "standard",
        "contractor": "strict",
        "agency_worker": "standard",
        "gig_worker": "light",
        "subcontractor": "standard",
        "partner": "light",
        "app_developer": "strict",
        "digital_agent": "strict",
    }
    assert {n: t.access.ceiling for n, t in types.items()} == {
        "employee": "restricted",
        "contractor": "confidential",
        "agency_worker": "internal",
        "gig_worker": "public",
        "subcontractor": "internal",
        "partner": "internal",
        "app_developer": "public",
        "digital_agent": "internal",
    }
    assert {n: t.access.max_grant_days for n, t in types.items()} == {
        "employee": None,
        "contractor": 90,
        "agency_worker": 180,
        "gig_worker": 14,
        "subcontractor": None,
        "partner": None,
        "app_developer": 365,
        "digital_agent": 30,
    }
    assert types["contractor"].access.approval_required
    assert types["app_developer"].access.allowed_systems == ("developer_portal", "sandbox")


def test_pointer_errors_order_by_path() -> None:
    assert sorted([PointerError("/b", "x"), PointerError("/a", "y")])[0].path == "/a"
