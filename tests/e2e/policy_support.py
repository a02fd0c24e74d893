"""Helpers for policy tests: a clock the tests move, a contributor set up through the
registry, and waiting until policy has caught up with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.policy.engine import RegistryFact
from services.registry.domain import events as registry_events
from tests.faults.harness import eventually


@dataclass
class Clock:
    """Policy's idea of today; tests advance it instead of waiting days."""

    today: date = field(default_factory=lambda: datetime.now(UTC).date())

    def __call__(self) -> date:
        return self.today

    def advance(self, days: int) -> None:
        self.today += timedelta(days=days)


CONTRACTOR_CHECKS = [
    "identity_verification",
    "nda",
    "security_training",
    "misclassification_assessment",
]


async def active_contractor(
    registry: httpx.AsyncClient, cid: str, *, background_valid_until: date, contract_end: date
) -> None:
    async def post(path: str, body: dict[str, Any] | None = None) -> None:
        response = await registry.post(f"/v1/contributors/{cid}{path}", json=body or {})
        assert response.status_code in (200, 201), response.text

    response = await registry.post(
        "/v1/contributors",
        json={
            "contributor_id": cid,
            "contributor_type": "contractor",
            "display_name": "Con Tractor",
            "owning_function": "procurement",
            "sponsor": "sponsor-9",
            "business_unit": "logistics",
            "effective_at": (datetime.now(UTC) - timedelta(days=10)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    await post("/onboarding")
    far = str(date.today() + timedelta(days=3650))
    for check in CONTRACTOR_CHECKS:
        await post("/checks", {"check": check, "outcome": "passed", "valid_until": far})
    await post(
        "/checks",
        {
            "check": "background_check",
            "outcome": "passed",
            "valid_until": str(background_valid_until),
        },
    )
    await post(
        "/contracts",
        {
            "contract_id": "k-1",
            "legal_entity": "ACME",
            "start": str(date.today() - timedelta(days=5)),
            "end": str(contract_end),
            "terms_reference": "msa",
        },
    )
    await post("/activation")
    await post(
        "/access-grants",
        # Contractors' grants may last 90 days at most under the default policy.
        {
            "grant_id": "g-1",
            "resource": "crm",
            "classification": "internal",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )


async def caught_up(
    registry: httpx.AsyncClient, policy: httpx.AsyncClient, cid: str
) -> dict[str, Any]:
    """Waits until policy has evaluated the contributor's latest registry version."""
    version = (await registry.get(f"/v1/contributors/{cid}")).json()["version"]
    found: dict[str, Any] = {}

    async def evaluated() -> bool:
        response = await policy.get(f"/v1/decisions/{cid}")
        if response.status_code != 200:
            return False
        found.update(response.json())
        return bool(found["based_on_version"] >= version)

    await eventually(evaluated, 60, f"policy to evaluate {cid} at version {version}")
    return found


async def decision_types(policy: httpx.AsyncClient, cid: str) -> list[str]:
    history = (await policy.get(f"/v1/decisions/{cid}/history")).json()
    return [h["type"].removeprefix("org.workforce.policy.").removesuffix(".v1") for h in history]


def registered_with_grant(
    cid: str, today: date, contributor_type: str = "partner"
) -> list[RegistryFact]:
    """Registered five days ago, then granted `crm` at `internal`."""
    began = datetime.combine(today - timedelta(days=5), datetime.min.time(), UTC)
    facts: list[tuple[str, dict[str, Any]]] = [
        (
            registry_events.Registered.TYPE,
            {"contributor_id": cid, "contributor_type": contributor_type, "sponsor": "s-1"},
        ),
        (
            registry_events.AccessGranted.TYPE,
            {"grant_id": "g-1", "resource": "crm", "classification": "internal"},
        ),
    ]
    return [
        RegistryFact(cid, kind, data, began + timedelta(days=n), n + 1)
        for n, (kind, data) in enumerate(facts)
    ]
