"""The reporting e2e tests' backends and scripted ecosystem (no tests here).

The real stack gets fresh topics as well as a fresh database: the shared broker's default
topics hold every earlier run's events, which a consumer reading from offset 0 would count
too. The embedded backend is one app on a fresh data folder (SQLite and the in-process
transport), as `wfe dev` runs it but without policy: the tests publish the decisions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.app import app as registry_app
from services.registry.app import definition as registry_definition
from services.reporting.app import app as reporting_app
from services.reporting.app import definition as reporting_definition
from shared.app import ServiceContext, create_app
from shared.db import create_engine
from shared.envelope import CloudEvent, to_binary
from shared.settings import ServiceSettings
from shared.transport.base import OutgoingMessage, Publisher
from shared.transport.factory import Transport
from tests.e2e.backends import embedded_settings
from tests.e2e.registry_client import RegistryClient
from tests.faults.harness import eventually
from tests.servers import RunningApp, isolated_settings, serve

TYPES = (
    "employee",
    "contractor",
    "agency_worker",
    "gig_worker",
    "subcontractor",
    "partner",
    "app_developer",
    "digital_agent",
)
PERSONS = frozenset(TYPES) - {"subcontractor", "digital_agent"}
FUNCTIONS = {
    "employee": "hr",
    "contractor": "procurement",
    "agency_worker": "procurement",
    "gig_worker": "business_unit",
    "subcontractor": "procurement",
    "partner": "business_development",
    "app_developer": "developer_relations",
    "digital_agent": "it",
}
UNITS = ("logistics", "retail", "platform")
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
STATUSES = ("compliant", "pending", "non_compliant", "expired")
POLICY = "org.workforce.policy."
CONTRIBUTORS = 500


@dataclass
class Stack:
    settings: ServiceSettings
    registry: RunningApp
    reporting: RunningApp
    engine: AsyncEngine
    """The reporting schema (stack) or database file (embedded)."""
    transport: Transport
    """The apps' own transport: Kafka, or the in-process log whose readers the app wakes."""
    script: Script | None = None
    """The ecosystem posted, once per stack (`scripted`)."""


def _transport(app: FastAPI) -> Transport:
    services: dict[str, ServiceContext] = app.state.services
    return services["registry"].transport


@asynccontextmanager
async def reporting_stack(admin_url: str, bootstrap: str, data_dir: Path) -> AsyncIterator[Stack]:
    async with isolated_settings(admin_url, bootstrap, data_dir, "e2e", 6) as settings:
        assert settings.database_url is not None
        engine = create_engine(settings.database_url, schema="reporting", pool_size=4)
        try:
            registry_served = registry_app(settings)
            async with (
                serve(registry_served) as registry,
                serve(reporting_app(settings)) as reporting,
            ):
                transport = _transport(registry_served)
                yield Stack(settings, registry, reporting, engine, transport)
        finally:
            await engine.dispose()


@asynccontextmanager
async def embedded_reporting(data_dir: Path) -> AsyncIterator[Stack]:
    settings = embedded_settings(data_dir)
    services = [registry_definition(), reporting_definition()]
    app = create_app(services, settings, "Workforce registry and reporting")
    async with serve(app) as running:
        engine = create_engine(settings.database_url_for("reporting"), schema="reporting")
        try:
            yield Stack(settings, running, running, engine, _transport(app))
        finally:
            await engine.dispose()


async def caught_up(stack: Stack, within: float = 60) -> None:
    """Everything the registry accepted is published, and reporting has consumed it all."""
    seen: dict[str, Any] = {}
    async with stack.registry.client() as registry, stack.reporting.client() as reporting:

        async def published_and_consumed() -> bool:
            ready = (await registry.get("/readyz")).json()
            seen["registry"] = ready["services"]["registry"]
            if seen["registry"].get("outbox_backlog") != 0:
                return False
            seen["reporting"] = (await reporting.get("/v1/reports/freshness")).json()
            return bool(seen["reporting"]["caught_up"])

        try:
            await eventually(published_and_consumed, within, "reporting to catch up")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {seen}") from exc


@dataclass
class Script:
    """What the script did that the registry's history does not tell."""

    now: datetime
    ids: list[str] = field(default_factory=list)
    decisions: list[CloudEvent] = field(default_factory=list)
    """Every policy decision published, duplicates and the malformed one included."""
    name_twins: tuple[str, str] = ("", "")
    orphaned: str = ""
    """Sponsored by someone who was offboarded."""
    claimed_twice: str = ""
    """Its owning function claimed differently by two systems."""


def at(moment: datetime) -> str:
    return moment.isoformat()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def scripted(stack: Stack, contributors: int = CONTRIBUTORS) -> Script:
    """The ecosystem posted, and reporting caught up with it; once per stack, as the tests
    that run on one backend only share the stack with those that run on both."""
    if stack.script is not None:
        return stack.script
    publisher = stack.transport.publisher(client_id="e2e-script")
    await publisher.start()
    try:
        async with stack.registry.client() as http:
            done = await script_ecosystem(
                http, publisher, stack.settings.topics.policy, contributors
            )
    finally:
        await publisher.stop()
    await caught_up(stack)
    stack.script = done
    return done


async def script_ecosystem(
    http: httpx.AsyncClient, publisher: Publisher, policy_topic: str, contributors: int
) -> Script:
    now = datetime.now(UTC).replace(microsecond=0)
    script = Script(now)
    api = RegistryClient(http)
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        async with gate:
            return await _contributor(api, i, now)

    script.ids = list(await asyncio.gather(*(one(i) for i in range(contributors))))
    twins = [
        await api.register("contractor", display_name=name, sponsor="s-twins", email=None)
        for name in ("Grace Hopper", "Hopper, Grace")
    ]
    script.name_twins = (twins[0]["id"], twins[1]["id"])
    offboarded = script.ids[32]
    script.orphaned = (await api.register("partner", sponsor=offboarded))["id"]
    script.claimed_twice = script.ids[0]
    claim = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/hris",
        "type": "org.workforce.contributor.profile_updated.v1",
        "subject": script.claimed_twice,
        "data": {"owning_function": "legal"},
    }
    posted = await http.post(
        "/v1/events", json=claim, headers={"content-type": "application/cloudevents+json"}
    )
    assert posted.status_code in (200, 201, 202), posted.text
    script.decisions = _decisions(script.ids, now)
    await publisher.publish([_message(policy_topic, d) for d in script.decisions])
    return script


async def _contributor(api: RegistryClient, i: int, now: datetime) -> str:
    kind = TYPES[i % len(TYPES)]
    today = now.date()
    registered = midnight(today - timedelta(days=365 - i % 300)) + timedelta(hours=9)
    created = await api.register(
        kind,
        display_name=f"Person {i}",
        email=f"p{i}@example.com",
        owning_function=FUNCTIONS[kind],
        sponsor=f"s-{i % 5}",
        business_unit=UNITS[i % 3],
        effective_at=at(registered),
    )
    cid: str = created["id"]

    async def do(path: str, body: dict[str, Any], when: datetime | None = None) -> None:
        await api.do(cid, path, {**body, **({"effective_at": at(when)} if when else {})})

    if i % 10 == 9:
        return cid  # stays invited
    started = registered + timedelta(days=1)
    await do("/onboarding", {}, started)
    end = None if kind == "employee" else today + timedelta(days=(i % 12) * 10 - 25)
    contract = {"contract_id": "k1", "legal_entity": "ACME Ltd", "terms_reference": "msa-1"}
    await do(
        "/contracts", {**contract, "start": str(started.date()), "end": end and str(end)}, started
    )
    engagement = {"engagement_id": "e1", "business_unit": UNITS[i % 3], "sponsor": f"s-{i % 5}"}
    await do(
        "/engagements", {**engagement, "start": str(started.date() + timedelta(days=1))}, started
    )
    if i % 10 == 8:
        return cid  # still onboarding
    active = registered + timedelta(days=1 + i % 6, hours=2)
    await do("/activation", {}, active)
    valid_until = today + timedelta(days=(i % 5 - 2) * 20)
    await do(
        "/checks", {"check": "nda", "outcome": "passed", "valid_until": str(valid_until)}, active
    )
    expires = None if i % 3 == 0 else at(now + timedelta(days=60))
    grant = {"grant_id": "g1", "resource": f"sys-{i % 4}", "classification": CLASSIFICATIONS[i % 4]}
    await do("/access-grants", {**grant, "expires_at": expires}, active + timedelta(hours=1))
    if kind in PERSONS and i % 4 < 2:
        await do("/dei-enrolments", {"program": "inclusion_training"})
    if i % 15 == 5:
        await do("/suspension", {"reason": "investigation"}, now - timedelta(days=10))
        if i % 30 == 5:
            await do("/reinstatement", {}, now - timedelta(days=5))
    elif kind == "contractor" and i % 16 == 1:
        await do("/conversion", {"to_type": "employee"}, now - timedelta(days=15))
    elif i % 25 == 7:
        # Back-dated: it took effect ten days ago, and the access goes only now.
        await do("/offboarding", {"reason": "resigned"}, now - timedelta(days=10))
    elif i % 20 == 3:
        # A correction: the move to another unit happened three weeks after registration.
        moved = {
            "business_unit": "platform-east",
            "effective_at": at(registered + timedelta(days=20)),
        }
        await api.do(cid, "", moved, method="PATCH")
    elif i == 11:
        # A back-dated termination; the grant is revoked only later, by hand.
        await do("/contracts/k1/termination", {"end": str(today - timedelta(days=20))})
        await do("/access-grants/g1/revocation", {"reason": "contract_ended"})
    return cid


def _decisions(ids: list[str], now: datetime) -> list[CloudEvent]:
    decisions: list[CloudEvent] = []
    for i, cid in enumerate(ids):
        if i % 3 == 0:
            status = STATUSES[i // 3 % len(STATUSES)]
            decisions.append(
                _decision(cid, 1, "compliance_status_changed", {"status": status}, now)
            )
            if i % 9 == 0:
                # Older in effect, arriving later: the newer one must still win.
                old = {"status": "pending", "missing": ["nda"]}
                decisions.append(_decision(cid, 2, "compliance_status_changed", old, now, days=5))
        if TYPES[i % len(TYPES)] in PERSONS and i % 2 == 0:
            programs = {"programs": ["inclusion_training", "accessibility_accommodations"]}
            decisions.append(_decision(cid, 3, "dei_programs_extended", programs, now))
        if i % 10 == 1:
            assigned = {"contributor_type": "x", "requirements": []}
            decisions.append(_decision(cid, 4, "requirements_assigned", assigned, now))
    decisions.append(decisions[0])  # delivered twice
    decisions.append(_decision(ids[1], 5, "compliance_status_changed", {"status": "bogus"}, now))
    return decisions


def _decision(
    cid: str, sequence: int, verb: str, data: dict[str, Any], now: datetime, days: int = 1
) -> CloudEvent:
    # `sequence` is the decision stream's own version, as the policy relay would send it:
    # it collides with the registry stream's versions on purpose.
    return CloudEvent(
        specversion="1.0",
        id=str(uuid.uuid4()),
        source="/policy",
        type=f"{POLICY}{verb}.v1",
        subject=cid,
        time=now,
        effectivetime=now - timedelta(days=days),
        sequence=sequence,
        partitionkey=cid,
        data={**data, "policy_hash": "0" * 64},
    )


def _message(topic: str, event: CloudEvent) -> OutgoingMessage:
    headers, value = to_binary(event)
    assert event.subject is not None
    return OutgoingMessage(topic, event.subject.encode(), value, headers)
