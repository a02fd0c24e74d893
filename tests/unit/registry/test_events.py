"""The catalogue: names, wire form, and the examples in docs/events.md."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.registry.domain.events import (
    EVENT_CLASSES,
    CheckRecorded,
    ContractTerminated,
    ProfileUpdated,
    Registered,
    SelfIdentificationErased,
    SelfIdentificationRecorded,
    catalogue,
    parse,
)
from shared.catalogue import InvalidEventData

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events.md"
SECTION = re.compile(r"^### `(?P<type>[^`]+)`\n(?P<body>.*?)```json\n(?P<json>.*?)```", re.M | re.S)


def documented_examples() -> dict[str, str]:
    return {m["type"]: m["json"] for m in SECTION.finditer(DOCS.read_text(encoding="utf-8"))}


def test_every_type_is_named_by_the_convention_and_registered_once() -> None:
    types = [cls.TYPE for cls in EVENT_CLASSES]
    assert len(types) == len(set(types)) == 23
    assert all(re.fullmatch(r"org\.workforce\.contributor\.[a-z_]+\.v1", t) for t in types)
    assert {cls.TYPE for cls in catalogue} == set(types)


def test_every_type_is_documented_with_a_valid_example() -> None:
    examples = documented_examples()
    assert set(examples) == {cls.TYPE for cls in EVENT_CLASSES}
    for event_type, text in examples.items():
        event = parse(event_type, json.loads(text))
        assert event_type == event.TYPE


def test_payloads_round_trip_through_json() -> None:
    event = ContractTerminated(
        contract_id="k-1",
        legal_entity="Acme",
        start=date(2025, 1, 1),
        end=date(2025, 2, 1),
        terms_reference="doc:1",
    )
    assert parse(event.TYPE, json.loads(event.model_dump_json())) == event


def test_email_is_normalised_and_unknown_fields_are_rejected() -> None:
    data = {
        "contributor_id": "c-1",
        "contributor_type": "contractor",
        "display_name": "Ada",
        "email": "Ada@Example.com",
        "owning_function": "it",
        "sponsor": "emp-1",
        "business_unit": "IT",
    }
    event = parse(Registered.TYPE, data)
    assert isinstance(event, Registered)
    assert event.email == "ada@example.com"
    with pytest.raises(InvalidEventData):
        parse(Registered.TYPE, data | {"date_of_birth": "1990-01-01"})


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        (ProfileUpdated.TYPE, {}),
        (CheckRecorded.TYPE, {"check": "nda", "outcome": "failed", "valid_until": "2026-01-01"}),
        (SelfIdentificationRecorded.TYPE, {"key_reference": "k", "dimensions": []}),
        (
            SelfIdentificationRecorded.TYPE,
            {"key_reference": "k", "dimensions": ["gender", "gender"]},
        ),
        (SelfIdentificationRecorded.TYPE, {"key_reference": "k", "dimensions": ["female"]}),
        (
            ContractTerminated.TYPE,
            {
                "contract_id": "k",
                "legal_entity": "Acme",
                "start": "2025-02-01",
                "end": "2025-01-31",
                "terms_reference": "t",
            },
        ),
        (
            "org.workforce.contributor.access_granted.v1",
            {
                "grant_id": "g",
                "resource": "r",
                "classification": "secret",
            },
        ),
        (
            "org.workforce.contributor.access_granted.v1",
            {
                "grant_id": "g",
                "resource": "r",
                "classification": "public",
                "expires_at": "2025-01-01T00:00:00",
            },
        ),
    ],
)
def test_invalid_payloads_are_rejected(event_type: str, data: dict[str, object]) -> None:
    with pytest.raises(InvalidEventData):
        parse(event_type, data)


def test_self_identification_events_have_no_room_for_demographic_values() -> None:
    assert set(SelfIdentificationRecorded.model_fields) == {"key_reference", "dimensions"}
    assert set(SelfIdentificationErased.model_fields) == {"key_reference"}


def test_instants_keep_their_offset() -> None:
    event = parse(
        "org.workforce.contributor.access_granted.v1",
        {
            "grant_id": "g",
            "resource": "r",
            "classification": "public",
            "expires_at": "2025-06-01T00:00:00Z",
        },
    )
    assert event.model_dump()["expires_at"] == datetime(2025, 6, 1, tzinfo=UTC)
