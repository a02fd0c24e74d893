"""The registry over HTTP against PostgreSQL and Kafka, as HR tools use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.e2e.registry_client import PROBLEM, RegistryClient, new_id
from tests.servers import RunningApp

ALL_TYPES = [
    "employee",
    "contractor",
    "agency_worker",
    "gig_worker",
    "subcontractor",
    "partner",
    "app_developer",
    "digital_agent",
]


@pytest.fixture
async def api(backend_registry: RunningApp) -> AsyncIterator[RegistryClient]:
    async with backend_registry.client() as http:
        yield RegistryClient(http)


@pytest.mark.parametrize("contributor_type", ALL_TYPES)
async def test_full_lifecycle_of_every_type(api: RegistryClient, contributor_type: str) -> None:
    person = contributor_type not in ("subcontractor", "digital_agent")
    email = {"email": f"{new_id()}@Example.COM"} if person else {}
    c = await api.register(contributor_type, **email)
    cid = c["id"]
    assert c["lifecycle"] == "invited"
    if person:
        assert c["email"] == email["email"].lower()
    await api.do(cid, "/onboarding")
    await api.do(
        cid,
        "/checks",
        {
            "check": "nda",
            "outcome": "passed",
            "valid_until": str(date.today() + timedelta(days=365)),
        },
    )
    contract = new_id("k")
    await api.do(
        cid,
        "/contracts",
        {
            "contract_id": contract,
            "legal_entity": "ACME GmbH",
            "start": str(date.today()),
            "end": str(date.today() + timedelta(days=90)),
            "terms_reference": "msa-1",
        },
    )
    await api.do(
        cid,
        "/engagements",
        {
            "engagement_id": new_id("e"),
            "business_unit": "logistics",
            "sponsor": "sponsor-1",
            "start": str(date.today()),
            "contract_id": contract,
        },
    )
    active = await api.do(cid, "/activation")
    assert active["lifecycle"] == "active"
    granted = await api.do(
        cid, "/access-grants", {"grant_id": "g-1", "resource": "crm", "classification": "internal"}
    )
    assert [g["grant_id"] for g in granted["access_grants"]] == ["g-1"]
    await api.do(cid, "/suspension", {"reason": "investigation"})
    await api.do(cid, "/reinstatement")
    off = await api.do(cid, "/offboarding", {"reason": "contract_ended"})
    assert off["lifecycle"] == "offboarded"
    assert off["access_grants"] == []
    assert all(e["status"] == "ended" for e in off["engagements"])
    back = await api.do(cid, "/reengagement")
    assert back["lifecycle"] == "onboarding"
    history = await api.history(cid)
    assert [h["version"] for h in history] == list(range(1, len(history) + 1))
    assert "org.workforce.contributor.access_revoked.v1" in [h["type"] for h in history]
    assert back["version"] == len(history)


async def test_conversion_keeps_one_identity_and_the_whole_history(api: RegistryClient) -> None:
    c = await api.register("contractor", email=f"{new_id()}@example.com")
    await api.do(c["id"], "/onboarding")
    await api.do(c["id"], "/activation")
    converted = await api.do(c["id"], "/conversion", {"to_type": "employee"})
    assert converted["id"] == c["id"]
    assert converted["contributor_type"] == "employee"
    assert converted["type_history"] == [{"from_type": "contractor", "to_type": "employee"}]
    types = [h["type"].split(".")[-2] for h in await api.history(c["id"])]
    assert types == ["registered", "onboarding_started", "activated", "type_converted"]


async def test_back_dated_termination_changes_effective_view_not_what_we_knew(
    api: RegistryClient,
) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    c = await api.register(
        "contractor",
        email=f"{new_id()}@example.com",
        effective_at=(start - timedelta(days=1)).isoformat(),
    )
    cid = c["id"]
    await api.do(cid, "/onboarding", {"effective_at": start.isoformat()})
    await api.do(cid, "/activation", {"effective_at": (start + timedelta(days=1)).isoformat()})
    before_correction = datetime.now(UTC)
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    await api.do(
        cid, "/offboarding", {"reason": "contract_ended", "effective_at": ten_days_ago.isoformat()}
    )
    five_days_ago = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    now_view = await api.get(cid, effective_at=five_days_ago)
    assert now_view["lifecycle"] == "offboarded"
    known_then = await api.get(cid, as_of=before_correction.isoformat(), effective_at=five_days_ago)
    assert known_then["lifecycle"] == "active"
    assert (await api.get(cid, as_of=before_correction.isoformat()))["lifecycle"] == "active"


async def test_stale_if_match_is_412_and_current_etag_works(
    api: RegistryClient, backend_registry: RunningApp
) -> None:
    c = await api.register("partner")
    response = await api.http.get(f"/v1/contributors/{c['id']}")
    tag = response.headers["etag"]
    assert tag == '"1"'
    await api.do(c["id"], "/onboarding", {}, headers={"If-Match": tag})
    problem = await api.do(c["id"], "/activation", {}, expect=412, headers={"If-Match": tag})
    assert problem["type"] == "/problems/precondition-failed"
    assert (
        await api.http.get(f"/v1/contributors/{c['id']}", headers={"If-None-Match": '"2"'})
    ).status_code == 304


async def test_idempotency_key_replays_the_first_answer(api: RegistryClient) -> None:
    key = new_id("key")
    body = {
        "contributor_type": "gig_worker",
        "display_name": "Gig",
        "owning_function": "procurement",
        "sponsor": "s-1",
        "business_unit": "delivery",
    }
    first = await api.http.post("/v1/contributors", json=body, headers={"Idempotency-Key": key})
    again = await api.http.post("/v1/contributors", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await api.history(first.json()["id"])) == 1
    other = await api.http.post(
        "/v1/contributors", json={**body, "display_name": "Other"}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_registration_matching_an_email_is_a_probable_duplicate(api: RegistryClient) -> None:
    email = f"{new_id()}@example.com"
    first = await api.register("contractor", email=email)
    response = await api.http.post(
        "/v1/contributors",
        json={
            "contributor_type": "employee",
            "display_name": "Same person",
            "owning_function": "hr",
            "sponsor": "s-1",
            "business_unit": "bu",
            "email": email.upper(),
        },
    )
    assert response.status_code == 409
    assert response.json()["existing_contributor_id"] == first["id"]


async def test_source_reference_identifies_one_contributor(api: RegistryClient) -> None:
    ref = {"system": "workday", "external_id": new_id("wd")}
    first = await api.register("employee", source_references=[ref])
    response = await api.http.post(
        "/v1/contributors",
        json={
            "contributor_type": "employee",
            "display_name": "Again",
            "owning_function": "hr",
            "sponsor": "s-1",
            "business_unit": "bu",
            "source_references": [ref],
        },
    )
    assert response.status_code == 409
    assert response.json()["existing_contributor_id"] == first["id"]
    other = await api.register("partner")
    taken = await api.do(other["id"], "/source-references", ref, expect=409)
    assert taken["type"] == "/problems/source-reference-taken"


@pytest.mark.parametrize(
    ("body", "status", "problem_type"),
    [
        (b"{not json", 400, "/problems/malformed-json"),
        (b'{"contributor_type": "employee"}', 422, "/problems/validation-failed"),
        (
            b'{"contributor_type": "wizard", "display_name": "x", "owning_function": "hr", '
            b'"sponsor": "s", "business_unit": "b"}',
            422,
            "/problems/unknown-contributor-type",
        ),
        (
            b'{"contributor_type": "employee", "display_name": "x", "owning_function": "hr", '
            b'"sponsor": "s", "business_unit": "b", "shoe_size": 44}',
            422,
            "/problems/validation-failed",
        ),
    ],
)
async def test_bad_registrations_get_precise_problems(
    api: RegistryClient, body: bytes, status: int, problem_type: str
) -> None:
    response = await api.http.post(
        "/v1/contributors", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == problem_type


async def test_illegal_things_are_refused_and_write_nothing(api: RegistryClient) -> None:
    c = await api.register("contractor")
    await api.do(c["id"], "/activation", expect=409)
    await api.do(c["id"], "/offboarding", {"reason": "contract_ended"})
    refused = await api.do(
        c["id"],
        "/access-grants",
        {"grant_id": "g", "resource": "crm", "classification": "internal"},
        expect=422,
    )
    assert refused["code"]
    await api.do("no-such-contributor", "/activation", expect=404)
    assert len(await api.history(c["id"])) == 2


async def test_list_filters_and_pages_with_a_cursor(api: RegistryClient) -> None:
    unit = new_id("bu")
    for _ in range(5):
        await api.register("agency_worker", business_unit=unit)
    await api.register("partner", business_unit=unit)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"business_unit": unit, "type": "agency_worker", "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        page = (await api.http.get("/v1/contributors", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = await api.http.get("/v1/contributors", params={"cursor": "!!"})
    assert bad.status_code == 400


async def test_tokens_and_scopes_are_enforced(backend_registry: RunningApp) -> None:
    async with backend_registry.client("contributors:read") as reader:
        denied = await reader.post("/v1/contributors", json={})
        assert denied.status_code == 403
        assert denied.json()["required_scope"] == "contributors:write"
        anonymous = await reader.get("/v1/contributors", headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert "Bearer" in anonymous.headers["www-authenticate"]


async def test_oversized_bodies_are_refused_before_they_are_read(api: RegistryClient) -> None:
    huge = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    declared = await api.http.post(
        "/v1/events", content=huge, headers={"content-type": "application/cloudevents-batch+json"}
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b" " * 65536

    streamed = await api.http.post(
        "/v1/events",
        content=chunks(),
        headers={"content-type": "application/cloudevents-batch+json"},
    )
    assert streamed.status_code == 413
