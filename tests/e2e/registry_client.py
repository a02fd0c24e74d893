"""A small client for the registry's REST API, as an HR tool would use it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

PROBLEM = "application/problem+json"


class RegistryClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def register(self, contributor_type: str, **fields: Any) -> dict[str, Any]:
        body = {
            "contributor_type": contributor_type,
            "display_name": fields.pop("display_name", f"Test {contributor_type}"),
            "owning_function": fields.pop("owning_function", "hr"),
            "sponsor": fields.pop("sponsor", "sponsor-1"),
            "business_unit": fields.pop("business_unit", "logistics"),
            **fields,
        }
        response = await self.http.post("/v1/contributors", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def do(
        self,
        contributor_id: str,
        path: str,
        body: dict[str, Any] | None = None,
        method: str = "POST",
        expect: int = 200,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.http.request(
            method,
            f"/v1/contributors/{contributor_id}{path}",
            json=body or {},
            headers=headers or {},
        )
        assert response.status_code == expect, response.text
        if expect >= 400:
            assert response.headers["content-type"] == PROBLEM
        result: dict[str, Any] = response.json()
        return result

    async def get(self, contributor_id: str, **params: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/contributors/{contributor_id}", params=params)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def history(self, contributor_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/v1/contributors/{contributor_id}/history")
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()
        return entries


def new_id(prefix: str = "id") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
