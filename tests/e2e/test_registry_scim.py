"""SCIM 2.0 provisioning against PostgreSQL and Kafka, as Okta and Entra ID run it.

Every write is checked twice: in the SCIM answer, and in the contributor's event history,
since a SCIM write is only a lifecycle event recorded by another door.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.registry_client import RegistryClient, new_id
from tests.servers import RunningApp

SCIM = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CONTRIBUTOR = "urn:workforce:scim:schemas:extension:contributor:1.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class Scim:
    """An identity provider's SCIM client: JSON in, status checked, SCIM media type out."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int = 200,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        response = await self.http.request(
            method,
            "/scim/v2" + path,
            content=None if body is None else json.dumps(body),
            headers={"Content-Type": SCIM, **(headers or {})},
        )
        assert response.status_code == expect, response.text
        if expect not in (204, 304):
            assert response.headers["content-type"] == SCIM
        return response

    async def error(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        found: dict[str, Any] = (
            await self.call(method, path, body, expect=status, headers=headers)
        ).json()
        assert found["schemas"] == [ERROR]
        assert found["status"] == str(status)
        assert found.get("scimType") == scim_type, found
        assert found["detail"]
        return found

    async def user(self, user_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (await self.call("GET", f"/Users/{user_id}")).json()
        return found

    async def create(self, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        created: dict[str, Any] = (await self.call("POST", "/Users", body, expect=expect)).json()
        return created

    async def patch(self, user_id: str, *operations: dict[str, Any]) -> dict[str, Any]:
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        patched: dict[str, Any] = (await self.call("PATCH", f"/Users/{user_id}", body)).json()
        return patched

    async def find(self, filter_: str) -> dict[str, Any]:
        found: dict[str, Any] = (
            await self.http.get("/scim/v2/Users", params={"filter": filter_})
        ).json()
        assert found["schemas"] == [LIST]
        return found


@pytest.fixture
async def okta(backend_registry: RunningApp) -> AsyncIterator[Scim]:
    async with backend_registry.client("scim", subject="okta") as http:
        yield Scim(http)


@pytest.fixture
async def entra(backend_registry: RunningApp) -> AsyncIterator[Scim]:
    async with backend_registry.client("scim", subject="Entra ID") as http:
        yield Scim(http)


@pytest.fixture
async def api(backend_registry: RunningApp) -> AsyncIterator[RegistryClient]:
    async with backend_registry.client() as http:
        yield RegistryClient(http)


async def event_types(api: RegistryClient, user_id: str) -> list[str]:
    return [h["type"].split(".")[-2] for h in await api.history(user_id)]


def email() -> str:
    return f"{new_id('u')}@example.com"


def okta_user(user_name: str, **overrides: Any) -> dict[str, Any]:
    """What Okta's SCIM 2.0 app sends to create a user."""
    return {
        "schemas": [CORE],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": new_id("00u"),
        "groups": [],
        "password": "not-kept-1!",
        "active": True,
        **overrides,
    }


def entra_user(user_name: str, **overrides: Any) -> dict[str, Any]:
    """What Entra ID's provisioning service sends to create a user."""
    return {
        "schemas": [CORE, ENTERPRISE],
        "externalId": new_id("nick"),
        "userName": user_name,
        "active": True,
        "displayName": "Grace Hopper",
        "title": "Rear admiral",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
        ENTERPRISE: {
            "employeeNumber": "42",
            "department": "Logistics",
            "manager": {"value": "m-1"},
        },
        **overrides,
    }


async def test_discovery_states_what_is_supported(okta: Scim) -> None:
    config = (await okta.call("GET", "/ServiceProviderConfig")).json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"]["supported"] is True
    assert config["filter"]["maxResults"] == 200
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": False}
    assert config["etag"] == {"supported": True}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"

    schemas = (await okta.call("GET", "/Schemas")).json()
    assert schemas["schemas"] == [LIST]
    assert [s["id"] for s in schemas["Resources"]] == [CORE, ENTERPRISE, CONTRIBUTOR]
    assert schemas["totalResults"] == 3
    custom = (await okta.call("GET", f"/Schemas/{CONTRIBUTOR}")).json()
    lifecycle = next(a for a in custom["attributes"] if a["name"] == "lifecycle")
    assert lifecycle["mutability"] == "readOnly"
    core = (await okta.call("GET", f"/Schemas/{CORE}")).json()
    user_type = next(a for a in core["attributes"] if a["name"] == "userType")
    assert "contractor" in user_type["canonicalValues"]
    await okta.error("GET", "/Schemas/urn:nothing", status=404)

    types = (await okta.call("GET", "/ResourceTypes")).json()
    assert [t["id"] for t in types["Resources"]] == ["User"]
    user = (await okta.call("GET", "/ResourceTypes/User")).json()
    assert user["endpoint"] == "/Users"
    assert {e["schema"] for e in user["schemaExtensions"]} == {ENTERPRISE, CONTRIBUTOR}
    await okta.error("GET", "/ResourceTypes/Group", status=404)
    await okta.error("GET", "/ServiceProviderConfig?filter=x", status=403)


async def test_okta_provisioning_lifecycle(okta: Scim, api: RegistryClient) -> None:
    address = email()
    probe = await okta.find(f'userName eq "{address}"')
    assert probe["totalResults"] == 0
    assert probe["Resources"] == []

    response = await okta.call("POST", "/Users", okta_user(address.upper()), expect=201)
    created = response.json()
    uid = created["id"]
    assert created["userName"] == address
    assert created["active"] is True
    assert created["emails"] == [{"value": address, "type": "work", "primary": True}]
    assert created["userType"] == "employee"
    assert created[CONTRIBUTOR]["lifecycle"] == "active"
    assert created[CONTRIBUTOR]["owningFunction"] == "hr"
    assert ENTERPRISE not in created  # neither manager nor department given
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["version"] == 'W/"3"'
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{uid}")
    assert response.headers["location"] == created["meta"]["location"]
    assert response.headers["etag"] == 'W/"3"'
    assert created["meta"]["created"].endswith("Z")
    assert await event_types(api, uid) == ["registered", "onboarding_started", "activated"]

    found = await okta.find(f'userName eq "{address}"')
    assert found["totalResults"] == 1
    assert found["itemsPerPage"] == 1
    assert found["startIndex"] == 1
    assert found["Resources"][0]["id"] == uid
    by_external = await okta.find(f'externalId eq "{created["externalId"]}"')
    assert [u["id"] for u in by_external["Resources"]] == [uid]

    # Okta updates profiles with PUT of the whole user.
    replaced = (
        await okta.call(
            "PUT",
            f"/Users/{uid}",
            {
                **okta_user(address, externalId=created["externalId"]),
                "displayName": "Ada King",
                ENTERPRISE: {"department": "Analytical Engines"},
            },
        )
    ).json()
    assert replaced["displayName"] == "Ada King"
    assert replaced[ENTERPRISE] == {"department": "Analytical Engines"}

    deactivated = await okta.patch(uid, {"op": "replace", "value": {"active": False}})
    assert deactivated["active"] is False
    assert deactivated[CONTRIBUTOR]["lifecycle"] == "suspended"
    still = await okta.user(uid)
    assert still["active"] is False
    inactive = await okta.find(f'userName eq "{address}" and active eq false')
    assert [u["id"] for u in inactive["Resources"]] == [uid]

    reactivated = await okta.patch(uid, {"op": "replace", "value": {"active": True}})
    assert reactivated["active"] is True
    assert reactivated[CONTRIBUTOR]["lifecycle"] == "active"

    await okta.call("DELETE", f"/Users/{uid}", expect=204)
    gone = await okta.user(uid)
    assert gone["active"] is False
    assert gone[CONTRIBUTOR]["lifecycle"] == "offboarded"
    await okta.call("DELETE", f"/Users/{uid}", expect=204)  # a retried delete changes nothing

    assert await event_types(api, uid) == [
        "registered",
        "onboarding_started",
        "activated",
        "profile_updated",
        "suspended",
        "reinstated",
        "offboarded",
    ]
    history = await api.history(uid)
    assert history[4]["data"] == {"reason": "other"}
    assert history[6]["data"] == {"reason": "other"}


async def test_entra_provisioning_lifecycle(entra: Scim, api: RegistryClient) -> None:
    # Entra ID probes with a random userName before it provisions anyone.
    probe = await entra.find(f'userName eq "{new_id("probe")}"')
    assert probe["totalResults"] == 0

    address = email()
    created = await entra.create(entra_user(address))
    uid = created["id"]
    assert created["displayName"] == "Grace Hopper"
    assert created[ENTERPRISE] == {"department": "Logistics", "manager": {"value": "m-1"}}
    assert created[CONTRIBUTOR]["sponsor"] == "m-1"
    assert created[CONTRIBUTOR]["businessUnit"] == "Logistics"
    assert "title" not in created

    patched = await entra.patch(
        uid,
        {"op": "Replace", "path": "displayName", "value": "Amazing Grace"},
        {"op": "Add", "path": "name.givenName", "value": "Amazing"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Navy"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "m-2"},
        {"op": "Replace", "path": "title", "value": "Commodore"},
        {"op": "Replace", "path": "userType", "value": "Employee"},
    )
    assert patched["displayName"] == "Amazing Grace"
    assert patched["name"] == {"formatted": "Amazing Grace"}
    assert patched[ENTERPRISE] == {"department": "Navy", "manager": {"value": "m-2"}}
    assert patched["meta"]["version"] == 'W/"4"'

    # userName is the email address, so a different work email is not a second address.
    same = await entra.patch(
        uid,
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "other@example.com"},
    )
    assert same["emails"][0]["value"] == address
    assert same["meta"]["version"] == 'W/"4"'

    suspended = await entra.patch(uid, {"op": "Replace", "path": "active", "value": "False"})
    assert suspended["active"] is False
    assert suspended[CONTRIBUTOR]["lifecycle"] == "suspended"
    back = await entra.patch(uid, {"op": "Replace", "path": "active", "value": "True"})
    assert back[CONTRIBUTOR]["lifecycle"] == "active"

    await entra.call("DELETE", f"/Users/{uid}", expect=204)
    assert (await entra.user(uid))[CONTRIBUTOR]["lifecycle"] == "offboarded"
    rehired = await entra.patch(uid, {"op": "Replace", "path": "active", "value": "True"})
    assert rehired["id"] == uid
    assert rehired[CONTRIBUTOR]["lifecycle"] == "active"

    assert await event_types(api, uid) == [
        "registered",
        "onboarding_started",
        "activated",
        "profile_updated",
        "suspended",
        "reinstated",
        "offboarded",
        "reengaged",
        "activated",
    ]
    profile = (await api.history(uid))[3]["data"]
    assert profile == {"display_name": "Amazing Grace", "sponsor": "m-2", "business_unit": "Navy"}


async def test_a_user_created_inactive_is_invited_until_activated(
    okta: Scim, api: RegistryClient
) -> None:
    created = await okta.create(okta_user(email(), active=False))
    assert created["active"] is False
    assert created[CONTRIBUTOR]["lifecycle"] == "invited"
    activated = await okta.patch(created["id"], {"op": "replace", "path": "active", "value": True})
    assert activated[CONTRIBUTOR]["lifecycle"] == "active"
    types = await event_types(api, created["id"])
    assert types == ["registered", "onboarding_started", "activated"]


async def test_a_username_that_is_no_email_address_is_a_reference(
    entra: Scim, okta: Scim, api: RegistryClient
) -> None:
    username = new_id("EMP")
    address = email()
    created = await entra.create(
        entra_user(
            username, emails=[{"type": "home", "value": "h@example.com"}, {"value": address}]
        )
    )
    uid = created["id"]
    assert created["userName"] == username
    assert created["emails"] == [{"value": address, "type": "work", "primary": True}]
    found = await entra.find(f'username eq "{username.lower()}"')
    assert [u["id"] for u in found["Resources"]] == [uid]
    # The username belongs to Entra ID; Okta sees the contributor's email.
    assert (await okta.user(uid))["userName"] == address
    assert "externalId" not in await okta.user(uid)

    moved = email()
    patched = await entra.patch(
        uid, {"op": "Replace", "path": 'emails[type eq "work"].value', "value": moved}
    )
    assert patched["emails"][0]["value"] == moved
    await entra.error(
        "PATCH",
        f"/Users/{uid}",
        {"Operations": [{"op": "replace", "path": "userName", "value": "someone-else"}]},
        status=400,
        scim_type="mutability",
    )
    await entra.error(
        "POST",
        "/Users",
        entra_user(username.lower(), emails=[]),
        status=409,
        scim_type="uniqueness",
    )
    assert await event_types(api, uid) == [
        "registered",
        "onboarding_started",
        "activated",
        "profile_updated",
    ]


async def test_user_type_change_converts_and_keeps_the_identity(
    okta: Scim, api: RegistryClient
) -> None:
    created = await okta.create(okta_user(email(), userType="Contractor"))
    assert created["userType"] == "contractor"
    assert created[CONTRIBUTOR]["owningFunction"] == "procurement"
    converted = await okta.patch(
        created["id"], {"op": "replace", "path": "userType", "value": "Employee"}
    )
    assert converted["id"] == created["id"]
    assert converted["userType"] == "employee"
    assert converted[CONTRIBUTOR]["contributorType"] == "employee"
    assert (await event_types(api, created["id"]))[-1] == "type_converted"
    await okta.error(
        "PATCH",
        f"/Users/{created['id']}",
        {"Operations": [{"op": "replace", "path": "userType", "value": "subcontractor"}]},
        status=400,
        scim_type="invalidValue",
    )
    await okta.error(
        "PATCH",
        f"/Users/{created['id']}",
        {"Operations": [{"op": "replace", "path": "userType", "value": "robot"}]},
        status=400,
        scim_type="invalidValue",
    )
    await okta.error(
        "POST", "/Users", okta_user(email(), userType="Guest"), status=400, scim_type="invalidValue"
    )


async def test_put_replaces_and_records_each_change(okta: Scim, api: RegistryClient) -> None:
    address = email()
    created = await okta.create(okta_user(address))
    uid = created["id"]
    replaced = (
        await okta.call(
            "PUT",
            f"/Users/{uid}",
            {
                "schemas": [CORE, CONTRIBUTOR],
                "userName": address,
                "displayName": "A. Lovelace",
                "userType": "agency_worker",
                "active": False,
                CONTRIBUTOR: {
                    "owningFunction": "procurement",
                    "sponsor": "s-9",
                    "businessUnit": "Research",
                    "lifecycle": "active",
                },
            },
        )
    ).json()
    assert replaced["userType"] == "agency_worker"
    assert replaced["active"] is False
    assert replaced[ENTERPRISE] == {"department": "Research", "manager": {"value": "s-9"}}
    assert replaced[CONTRIBUTOR]["owningFunction"] == "procurement"
    assert await event_types(api, uid) == [
        "registered",
        "onboarding_started",
        "activated",
        "type_converted",
        "profile_updated",
        "suspended",
    ]
    await okta.error(
        "PUT", f"/Users/{uid}", {"displayName": "x"}, status=400, scim_type="invalidValue"
    )
    await okta.error(
        "PATCH",
        f"/Users/{uid}",
        {"Operations": [{"op": "replace", "path": f"{CONTRIBUTOR}:lifecycle", "value": "x"}]},
        status=400,
        scim_type="mutability",
    )


async def test_duplicates_are_refused_as_uniqueness(okta: Scim, api: RegistryClient) -> None:
    address = email()
    created = await okta.create(okta_user(address))
    await okta.error("POST", "/Users", okta_user(address), status=409, scim_type="uniqueness")
    await okta.error(
        "POST",
        "/Users",
        okta_user(email(), externalId=created["externalId"]),
        status=409,
        scim_type="uniqueness",
    )
    other = await okta.create(okta_user(email()))
    await okta.error(
        "PATCH",
        f"/Users/{other['id']}",
        {"Operations": [{"op": "replace", "path": "userName", "value": address.upper()}]},
        status=409,
        scim_type="uniqueness",
    )
    # Someone HR registered already is found by userName, never provisioned twice.
    hr_address = email()
    registered = await api.register("contractor", email=hr_address)
    found = await okta.find(f'emails.value eq "{hr_address.upper()}"')
    assert [u["id"] for u in found["Resources"]] == [registered["id"]]
    await okta.error("POST", "/Users", okta_user(hr_address), status=409, scim_type="uniqueness")
    # Okta links it instead: externalId becomes a source reference.
    linked = await okta.patch(
        registered["id"], {"op": "add", "path": "externalId", "value": "00u-linked"}
    )
    assert linked["externalId"] == "00u-linked"
    assert (await api.get(registered["id"]))["source_references"] == [
        {"system": "okta", "external_id": "00u-linked"}
    ]
    await okta.error(
        "PATCH",
        f"/Users/{registered['id']}",
        {"Operations": [{"op": "replace", "path": "externalId", "value": "00u-other"}]},
        status=400,
        scim_type="mutability",
    )


async def test_if_match_guards_every_write(okta: Scim) -> None:
    created = await okta.create(okta_user(email()))
    uid = created["id"]
    current = created["meta"]["version"]
    await okta.call("GET", f"/Users/{uid}", headers={"If-None-Match": current}, expect=304)
    stale_tag = 'W/"1"'
    body = {"Operations": [{"op": "replace", "path": "displayName", "value": "X"}]}
    error = await okta.error(
        "PATCH", f"/Users/{uid}", body, status=412, headers={"If-Match": stale_tag}
    )
    assert "GET it again" in error["detail"]
    put = okta_user(created["userName"], externalId=created["externalId"])
    await okta.error("PUT", f"/Users/{uid}", put, status=412, headers={"If-Match": stale_tag})
    await okta.error("DELETE", f"/Users/{uid}", status=412, headers={"If-Match": stale_tag})
    await okta.error(
        "PATCH",
        f"/Users/{uid}",
        body,
        status=400,
        scim_type="invalidValue",
        headers={"If-Match": "x"},
    )
    patched = await okta.call("PATCH", f"/Users/{uid}", body, headers={"If-Match": current})
    assert patched.headers["etag"] == 'W/"4"'
    await okta.call("DELETE", f"/Users/{uid}", headers={"If-Match": 'W/"4"'}, expect=204)


async def test_paging_and_filters(okta: Scim) -> None:
    for _ in range(3):
        await okta.create(okta_user(email()))
    everyone = (await okta.call("GET", "/Users?count=0")).json()
    total = everyone["totalResults"]
    assert total >= 3
    assert everyone["Resources"] == []
    first = (await okta.call("GET", "/Users?startIndex=1&count=2")).json()
    second = (await okta.call("GET", "/Users?startIndex=3&count=2")).json()
    assert first["itemsPerPage"] == 2
    assert second["startIndex"] == 3
    ids = [u["id"] for u in first["Resources"] + second["Resources"]]
    assert ids == sorted(set(ids))
    assert first["totalResults"] == total
    clamped = (await okta.call("GET", "/Users?startIndex=0&count=-4")).json()
    assert (clamped["startIndex"], clamped["itemsPerPage"]) == (1, 0)
    active = await okta.find("active eq true")
    assert active["Resources"]
    assert all(u["active"] for u in active["Resources"])
    inactive = await okta.find("ACTIVE eq false")
    assert not any(u["active"] for u in inactive["Resources"])


async def test_malformed_requests_are_scim_errors(okta: Scim) -> None:
    uid = (await okta.create(okta_user(email())))["id"]
    for bad in (
        'title eq "x"',
        'userName co "x"',
        'userName eq "x" or active eq true',
        "userName eq",
        'emails[type eq "work"].value eq "a@b.c"',
        "active eq 1",
    ):
        response = await okta.http.get("/scim/v2/Users", params={"filter": bad})
        assert response.status_code == 400, bad
        assert response.headers["content-type"] == SCIM
        assert response.json()["scimType"] == "invalidFilter"
    await okta.error("GET", "/Users?startIndex=one", status=400, scim_type="invalidValue")

    malformed = await okta.http.post(
        "/scim/v2/Users", content=b"{not json", headers={"Content-Type": SCIM}
    )
    assert malformed.status_code == 400
    assert malformed.json()["scimType"] == "invalidSyntax"
    await okta.error(
        "POST", "/Users", ["not", "an", "object"], status=400, scim_type="invalidSyntax"
    )
    await okta.error("POST", "/Users", {"displayName": "x"}, status=400, scim_type="invalidValue")
    await okta.error("POST", "/Users", okta_user("a b c"), status=400, scim_type="invalidValue")
    await okta.error(
        "POST", "/Users", okta_user(email(), active="maybe"), status=400, scim_type="invalidValue"
    )
    wrong_type = await okta.http.post(
        "/scim/v2/Users", content=b"userName=x", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"] == SCIM

    path = f"/Users/{uid}"
    await okta.error("PATCH", path, {"schemas": [PATCH_OP]}, status=400, scim_type="invalidSyntax")
    await okta.error(
        "PATCH", path, {"Operations": [{"op": "merge"}]}, status=400, scim_type="invalidSyntax"
    )
    await okta.error(
        "PATCH", path, {"Operations": [{"op": "remove"}]}, status=400, scim_type="noTarget"
    )
    await okta.error(
        "PATCH",
        path,
        {"Operations": [{"op": "replace", "path": "favouriteColour", "value": "x"}]},
        status=400,
        scim_type="invalidPath",
    )
    await okta.error(
        "PATCH",
        path,
        {"Operations": [{"op": "replace", "path": "urn:other:schema:x", "value": "x"}]},
        status=400,
        scim_type="invalidPath",
    )
    await okta.error(
        "PATCH",
        path,
        {"Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]},
        status=400,
        scim_type="invalidValue",
    )
    await okta.error(
        "PATCH",
        path,
        {"Operations": [{"op": "remove", "path": "displayName"}]},
        status=400,
        scim_type="mutability",
    )

    replace_name = {"op": "replace", "path": "displayName", "value": "x"}
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = okta_user(email()) if method == "PUT" else {"Operations": [replace_name]}
        await okta.error(method, "/Users/c-unknown", body if method != "GET" else None, status=404)
    await okta.error("GET", "/Groups", status=404)
    await okta.error("POST", "/Bulk", {}, status=501)
    await okta.error("DELETE", "/Users", status=405)


async def test_tokens_and_scopes_in_scim_format(backend_registry: RunningApp) -> None:
    async with backend_registry.client("contributors:read", subject="okta") as http:
        for path in ("/Users", "/ServiceProviderConfig", "/Users/c-1"):
            forbidden = await http.get("/scim/v2" + path)
            assert forbidden.status_code == 403
            assert forbidden.headers["content-type"] == SCIM
            assert forbidden.json()["schemas"] == [ERROR]
        anonymous = await http.post("/scim/v2/Users", json={}, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == SCIM
        assert anonymous.json()["status"] == "401"
        assert "Bearer" in anonymous.headers["www-authenticate"]
        forged = await http.get("/scim/v2/Users", headers={"Authorization": "Bearer forged"})
        assert forged.status_code == 401
        assert forged.json()["schemas"] == [ERROR]


async def test_idempotency_key_replays_a_create(okta: Scim) -> None:
    body = okta_user(email())
    key = {"Idempotency-Key": new_id("k")}
    first = await okta.call("POST", "/Users", body, expect=201, headers=key)
    again = await okta.call("POST", "/Users", body, expect=201, headers=key)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_more_patch_forms_identity_providers_send(entra: Scim, api: RegistryClient) -> None:
    body = entra_user(email())
    del body["displayName"]
    body["name"] = {"givenName": "Grace", "familyName": "Hopper"}
    created = await entra.create(body)
    uid = created["id"]
    assert created["displayName"] == "Grace Hopper"

    patched = await entra.patch(
        uid,
        {
            "op": "replace",
            "value": {
                "name.givenName": "G.",
                "DisplayName": "G. Hopper",
                f"{ENTERPRISE}:department": "Fleet",
                "password": "never-kept",
            },
        },
        {"op": "replace", "path": ENTERPRISE, "value": {"manager": {"value": "m-3"}}},
        {"op": "replace", "path": f"{CONTRIBUTOR}:owningFunction", "value": "it"},
    )
    assert patched["displayName"] == "G. Hopper"
    assert patched[ENTERPRISE] == {"department": "Fleet", "manager": {"value": "m-3"}}
    assert patched[CONTRIBUTOR]["owningFunction"] == "it"

    removed = await entra.patch(
        uid,
        {"op": "Remove", "path": f"{ENTERPRISE}:manager"},
        {"op": "Remove", "path": f"{ENTERPRISE}:department"},
    )
    assert ENTERPRISE not in removed
    assert removed[CONTRIBUTOR]["sponsor"] == "unassigned"

    unchanged = await entra.patch(
        uid,
        {"op": "Replace", "path": "emails[primary eq true].value", "value": created["userName"]},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "7"},
    )
    assert unchanged["meta"]["version"] == removed["meta"]["version"]
    assert (await event_types(api, uid))[3:] == ["profile_updated", "profile_updated"]

    by_urn = await entra.find(f'{CORE}:userName eq "{created["userName"]}"')
    assert [u["id"] for u in by_urn["Resources"]] == [uid]


async def test_contributors_from_other_doors_are_users(okta: Scim, api: RegistryClient) -> None:
    firm = await api.register("subcontractor")
    user = await okta.user(firm["id"])
    assert user["userName"] == firm["id"]
    assert "emails" not in user
    assert user["userType"] == "subcontractor"
    assert user["active"] is False
    assert user[CONTRIBUTOR]["lifecycle"] == "invited"
    assert user[ENTERPRISE] == {"department": "logistics", "manager": {"value": "sponsor-1"}}
    found = await okta.find(f'userName eq "{firm["id"]}"')
    assert [u["id"] for u in found["Resources"]] == [firm["id"]]
