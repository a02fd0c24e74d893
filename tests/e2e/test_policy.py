"""The policy service end to end: it consumes the registry's events, decides per contributor
type, fires durable timers, and publishes every decision. Each test runs on both backends:
beside the registry on the real stack (PostgreSQL + Kafka), and inside one embedded app with
the registry and reporting (SQLite + the in-process transport), as `wfe dev` runs it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from services.policy.app import definition as policy_definition
from services.policy.domain.document import DEFAULT_POLICY, validate_policy
from services.policy.domain.evaluate import evaluate
from services.policy.domain.view import fold
from services.policy.engine import POLICY_STREAM, PolicyEngine
from services.registry.app import definition as registry_definition
from services.registry.domain.types import ContributorTypes
from services.reporting.app import definition as reporting_definition
from shared.app import create_app
from shared.db import create_engine
from shared.eventstore.store import event_store_for
from shared.settings import ServiceSettings
from shared.transport.partitioning import partition_for_key
from tests.databases import fresh_database
from tests.e2e.backends import BACKENDS, embedded_settings
from tests.e2e.policy_support import (
    Clock,
    active_contractor,
    caught_up,
    decision_types,
    registered_with_grant,
)
from tests.faults.harness import eventually
from tests.servers import RunningApp, serve


@dataclass(frozen=True)
class Backend:
    """Where policy runs: beside the stack's registry, or, embedded, in one app with it."""

    settings: ServiceSettings
    registry: RunningApp | None
    """The stack's registry; None when embedded (the policy app serves the registry too)."""

    def app(self, clock: Clock, title: str) -> FastAPI:
        policy = policy_definition(clock, timer_interval=0.2)
        if self.registry is not None:
            return create_app([policy], self.settings, title)
        # `embedded_app`'s composition, but with policy on the tests' clock.
        services = [registry_definition(), policy, reporting_definition()]
        return create_app(services, self.settings, title)

    @asynccontextmanager
    async def serve(self, clock: Clock, title: str) -> AsyncIterator[tuple[RunningApp, RunningApp]]:
        """(registry, policy) served."""
        async with serve(self.app(clock, title)) as policy:
            yield self.registry or policy, policy

    def fresh(self, data_dir: Path) -> Backend:
        """Another deployment to start and stop: on the stack, one more policy instance
        beside the module's; embedded, a new data folder (two embedded apps on one folder
        would be two instances of the in-process transport's consumer group)."""
        return self if self.registry is not None else Backend(embedded_settings(data_dir), None)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if request.param == "stack":
        settings: ServiceSettings = request.getfixturevalue("stack_settings")
        registry: RunningApp = request.getfixturevalue("registry")
        return Backend(settings, registry)
    return Backend(embedded_settings(Path(tmp_path_factory.mktemp("policy"))), None)


@pytest.fixture(scope="module")
async def served(backend: Backend, clock: Clock) -> AsyncIterator[tuple[RunningApp, RunningApp]]:
    async with backend.serve(clock, "policy") as pair:
        yield pair


@pytest.fixture
async def clients(
    served: tuple[RunningApp, RunningApp],
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    registry, policy = served
    async with registry.client() as r, policy.client() as p:
        yield r, p


def new_cid() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


async def test_strict_background_check_expiry_requires_revocation_on_the_day(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], clock: Clock
) -> None:
    registry, policy = clients
    cid = new_cid()
    await active_contractor(
        registry,
        cid,
        background_valid_until=clock.today,
        contract_end=clock.today + timedelta(days=300),
    )
    evaluation = await caught_up(registry, policy, cid)
    assert evaluation["compliance"]["status"] == "compliant", evaluation
    due = str(clock.today + timedelta(days=1))
    expiry = {"due": due, "kind": "check_expiry", "subject_ref": "background_check"}
    assert expiry in evaluation["timers"], evaluation["timers"]
    history = (await policy.get(f"/v1/decisions/{cid}/history")).json()
    revocations = [h["data"] for h in history if "revocation" in h["type"]]
    assert not revocations, json.dumps(revocations)

    clock.advance(1)  # the check expired yesterday; strict: suspend access at once

    async def revoked() -> bool:
        return "access_revocation_required" in await decision_types(policy, cid)

    await eventually(revoked, 30, "the expiry timer to fire")
    history = (await policy.get(f"/v1/decisions/{cid}/history")).json()
    revocation = next(h for h in history if h["type"].endswith("access_revocation_required.v1"))
    assert revocation["data"]["grant_id"] == "g-1"
    assert revocation["data"]["as_of"] == str(clock.today)
    assert revocation["data"]["enforced"] is True
    pending = (await policy.get(f"/v1/decisions/{cid}")).json()["timers"]
    assert expiry not in pending, pending  # fired
    clock.advance(-1)


async def test_contract_end_requires_revocation(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], clock: Clock
) -> None:
    registry, policy = clients
    cid = new_cid()
    await active_contractor(
        registry,
        cid,
        background_valid_until=clock.today + timedelta(days=300),
        contract_end=clock.today,
    )
    await caught_up(registry, policy, cid)
    history = (await policy.get(f"/v1/decisions/{cid}/history")).json()
    reasons = [
        h["data"].get("reasons") or h["data"].get("reason")
        for h in history
        if h["type"].endswith("access_revocation_required.v1")
    ]
    assert reasons, "no revocation required on the contract's last day"
    assert "contract_ended" in str(reasons)


async def test_access_check_permits_up_to_the_ceiling_and_explains(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], clock: Clock
) -> None:
    registry, policy = clients
    cid = new_cid()
    await active_contractor(
        registry,
        cid,
        background_valid_until=clock.today + timedelta(days=300),
        contract_end=clock.today + timedelta(days=300),
    )
    await caught_up(registry, policy, cid)

    async def check(classification: str, approvals: list[str]) -> dict[str, Any]:
        response = await policy.post(
            "/v1/access/check",
            json={
                "contributor_id": cid,
                "resource": "crm",
                "classification": classification,
                "approvals": approvals,
            },
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    allowed = await check("confidential", ["sponsor-9"])
    assert allowed["permit"] is True
    assert allowed["reasons"]
    over = await check("restricted", ["sponsor-9"])
    assert over["permit"] is False
    assert any("over_ceiling" in r for r in over["reasons"])
    unapproved = await check("internal", [])
    assert unapproved["permit"] is False
    unknown = await policy.post(
        "/v1/access/check",
        json={"contributor_id": "nobody", "resource": "crm", "classification": "public"},
    )
    assert unknown.status_code == 404


async def test_invalid_policies_are_refused_with_exact_paths(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    _, policy = clients
    versions_before = len((await policy.get("/v1/policies")).json())
    current = (await policy.get("/v1/policies/current")).json()["document"]
    broken = {
        **current,
        "types": {
            **current["types"],
            "contractor": {
                **current["types"]["contractor"],
                "access": {**current["types"]["contractor"]["access"], "ceiling": "galactic"},
            },
        },
    }
    response = await policy.post("/v1/policies", json={"document": broken, "reason": "oops"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "/types/contractor/access/ceiling" in [e["pointer"] for e in response.json()["errors"]]
    alien = {**current, "types": {**current["types"], "wizard": current["types"]["partner"]}}
    response = await policy.post("/v1/policies", json={"document": alien, "reason": "oops"})
    assert response.status_code == 422
    assert "/types/wizard" in [e["pointer"] for e in response.json()["errors"]]
    assert len((await policy.get("/v1/policies")).json()) == versions_before


async def test_record_only_logs_and_simulate_predicts_what_enforcing_emits(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], clock: Clock
) -> None:
    registry, policy = clients
    cid = new_cid()
    await active_contractor(
        registry,
        cid,
        background_valid_until=clock.today + timedelta(days=300),
        contract_end=clock.today + timedelta(days=300),
    )
    granted = await registry.post(
        f"/v1/contributors/{cid}/access-grants",
        json={
            "grant_id": "g-conf",
            "resource": "finance",
            "classification": "confidential",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert granted.status_code == 200
    await caught_up(registry, policy, cid)
    current = (await policy.get("/v1/policies/current")).json()["document"]
    types = current["types"]
    lowered = {
        **types,
        "contractor": {
            **types["contractor"],
            "access": {**types["contractor"]["access"], "ceiling": "internal"},
        },
    }

    recorded = await policy.post(
        "/v1/policies",
        json={"document": {**current, "mode": "record_only", "types": lowered}, "reason": "trial"},
    )
    assert recorded.status_code == 201, recorded.text
    history = (await policy.get(f"/v1/decisions/{cid}/history")).json()
    trial = [h for h in history if h["data"].get("mode") == "record_only"]
    assert trial
    assert all(h["data"]["enforced"] is False for h in trial)

    candidate = {**current, "mode": "enforced", "types": lowered}
    simulated = await policy.post("/v1/policies/simulate", json={"document": candidate})
    assert simulated.status_code == 200, simulated.text
    predicted = {
        c["contributor_id"]: sorted(d["type"] for d in c["decisions"])
        for c in simulated.json()["changes"]
    }
    assert cid in predicted
    before = {c: len((await policy.get(f"/v1/decisions/{c}/history")).json()) for c in predicted}
    published = await policy.post("/v1/policies", json={"document": candidate, "reason": "go"})
    assert published.status_code == 201
    assert published.json()["decisions_emitted"] == sum(len(v) for v in predicted.values())
    for contributor, expected in predicted.items():
        history = (await policy.get(f"/v1/decisions/{contributor}/history")).json()
        emitted = sorted(h["type"] for h in history[before[contributor] :])
        assert emitted == expected, contributor
    revoked = [
        h
        for h in (await policy.get(f"/v1/decisions/{cid}/history")).json()
        if h["type"].endswith("access_revocation_required.v1") and h["data"]["enforced"]
    ]
    assert [h["data"]["grant_id"] for h in revoked] == ["g-conf"]
    # Restore the default for the other tests.
    restored = await policy.post("/v1/policies", json={"document": current, "reason": "reset"})
    assert restored.status_code == 201


async def test_a_restart_with_pending_timers_loses_none_and_fires_none_twice(
    backend: Backend, clock: Clock, tmp_path: Path
) -> None:
    restart_clock = Clock(clock.today)
    cids = [new_cid() for _ in range(3)]
    deployment = backend.fresh(tmp_path)
    async with (
        deployment.serve(restart_clock, "p") as (r_app, p_app),
        r_app.client() as r,
        p_app.client() as p,
    ):
        for cid in cids:
            await active_contractor(
                r,
                cid,
                background_valid_until=restart_clock.today,
                contract_end=restart_clock.today + timedelta(days=300),
            )
        for cid in cids:
            await caught_up(r, p, cid)
    restart_clock.advance(1)  # the timers fall due while policy is down
    async with deployment.serve(restart_clock, "p") as (_, p_app), p_app.client() as p:

        async def all_fired() -> bool:
            fired = [("access_revocation_required" in await decision_types(p, cid)) for cid in cids]
            return all(fired)

        await eventually(all_fired, 30, "the overdue timers to fire after the restart")
        for cid in cids:
            assert (await decision_types(p, cid)).count("access_revocation_required") == 1
    engine = create_engine(deployment.settings.database_url_for("policy"), schema="policy")
    try:
        async with engine.connect() as conn:
            pending = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM timers WHERE fired_at IS NULL AND due <= :today "
                    "AND contributor_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"today": restart_clock.today, "ids": cids},
            )
    finally:
        await engine.dispose()
    assert pending == 0
    assert isinstance(restart_clock.today, date)


async def test_two_policy_instances_split_the_partitions_and_decide_once(
    stack_settings: ServiceSettings, registry: RunningApp, clock: Clock
) -> None:
    """Both instances join the group `policy`; each contributor's events are decided by
    whichever owns its partition, and no decision is recorded twice."""
    # The stack only: one embedded app is one instance by design (one process, one folder).
    first_app = create_app([policy_definition(clock, timer_interval=0.2)], stack_settings, "p1")
    second_app = create_app([policy_definition(clock, timer_interval=0.2)], stack_settings, "p2")
    async with serve(first_app) as first, serve(second_app) as second:
        consumers = [
            app.state.services["policy"].extras["consumer"] for app in (first_app, second_app)
        ]

        async def split() -> bool:
            owned = [c.assignment() for c in consumers]
            return all(owned) and not (owned[0] & owned[1])

        await eventually(split, 60, "the two instances to split the partitions")
        topic = stack_settings.topics.registry
        partitions = {tp.partition for c in consumers for tp in c.assignment() if tp.topic == topic}
        cids = _on_every_partition(len(partitions), 2)
        async with registry.client() as r, first.client() as p:
            for cid in cids:
                await active_contractor(
                    r,
                    cid,
                    background_valid_until=clock.today + timedelta(days=300),
                    contract_end=clock.today + timedelta(days=300),
                )
            for cid in cids:
                await caught_up(r, p, cid)
            for cid in cids:
                history = (await p.get(f"/v1/decisions/{cid}/history")).json()
                decided = [(h["type"], h["data"]["based_on_version"]) for h in history]
                assert len(decided) == len(set(decided)), f"{cid} decided twice: {decided}"
        assert all(c.stats.processed > 0 for c in consumers), [c.stats for c in consumers]
        assert second.base_url != first.base_url


def _on_every_partition(partitions: int, each: int) -> list[str]:
    """New contributor ids, `each` on every partition of the registry's topic (the relay
    keys a message by its stream, the contributor): whichever partitions an instance owns,
    some of them are its own."""
    found: dict[int, list[str]] = {n: [] for n in range(partitions)}
    while any(len(ids) < each for ids in found.values()):
        cid = new_cid()
        ids = found[partition_for_key(cid.encode(), partitions)]
        if len(ids) < each:
            ids.append(cid)
    return [cid for ids in found.values() for cid in ids]


EXPECTED = {  # the handbook's table, as the default policy states it
    "employee": (
        "restricted",
        {"background_check", "identity_verification", "nda", "security_training"},
        5,
    ),
    "contractor": (
        "confidential",
        {
            "background_check",
            "identity_verification",
            "misclassification_assessment",
            "nda",
            "security_training",
        },
        2,
    ),
    "agency_worker": ("internal", {"identity_verification", "nda", "security_training"}, 3),
    "gig_worker": ("public", {"identity_verification", "tax_form"}, 1),
    "subcontractor": ("internal", {"insurance_certificate", "nda"}, 0),
    "partner": ("internal", {"nda"}, 1),
    "app_developer": ("public", {"app_security_review", "developer_agreement"}, 0),
    "digital_agent": ("internal", {"agent_security_review"}, 0),
}
RANKS = ["public", "internal", "confidential", "restricted"]


@pytest.mark.parametrize("contributor_type", list(EXPECTED))
async def test_each_type_under_the_default_policy(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], contributor_type: str
) -> None:
    registry, policy = clients
    cid = new_cid()
    ceiling, checks, dei_count = EXPECTED[contributor_type]
    registered = await registry.post(
        "/v1/contributors",
        json={
            "contributor_id": cid,
            "contributor_type": contributor_type,
            "display_name": "Typed",
            "owning_function": "business_unit",
            "sponsor": "sponsor-1",
            "business_unit": "ops",
        },
    )
    assert registered.status_code == 201, registered.text
    for step in ("/onboarding", "/activation"):
        assert (await registry.post(f"/v1/contributors/{cid}{step}", json={})).status_code == 200
    evaluation = await caught_up(registry, policy, cid)
    assert {r["check"] for r in evaluation["requirements"]} == checks
    assert len(evaluation["dei_programs"]) == dei_count
    above = RANKS[RANKS.index(ceiling) + 1] if ceiling != "restricted" else None
    if above is not None:
        response = await policy.post(
            "/v1/access/check",
            json={
                "contributor_id": cid,
                "resource": "crm",
                "classification": above,
                "approvals": ["sponsor-1"],
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["permit"] is False
        assert any("over_ceiling" in reason for reason in response.json()["reasons"])


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_a_publication_interrupted_after_its_version_is_finished_once(
    database: str, postgres_admin_url: str, tmp_path: Path, clock: Clock
) -> None:
    """A publication commits its version first and re-evaluates in chunks after: a crash in
    between leaves evaluations made under the old policy, which the next catch-up (run when
    the service starts) brings up to date, emitting each decision once."""
    types = set(ContributorTypes.defaults().names)
    cids = [f"c-{n}" for n in range(5)]
    async with fresh_database(database, postgres_admin_url, tmp_path, "policy@head") as fresh:
        engine = fresh.engine
        store = event_store_for(engine.dialect.name)
        policy = PolicyEngine(store, types, clock)
        facts = [f for cid in cids for f in registered_with_grant(cid, clock.today)]
        async with engine.begin() as conn:
            await policy.on_registry_events(conn, facts, {"actor": "test"})
        document = DEFAULT_POLICY.model_dump(mode="json")
        document["types"]["partner"]["access"]["ceiling"] = "public"
        async with engine.begin() as conn:  # the version commits; then the crash
            published = await policy.record_version(
                conn, validate_policy(document, types), "test", "lower partners"
            )
            before = await conn.scalar(sa.text("SELECT count(*) FROM events"))

        restarted = PolicyEngine(store, types, clock)
        emitted = await restarted.catch_up(engine, chunk=2)
        again = await restarted.catch_up(engine, chunk=2)

        async with engine.connect() as conn:
            hashes = (
                (
                    await conn.execute(
                        sa.text("SELECT evaluation->>'policy_hash' FROM contributor_policy")
                    )
                )
                .scalars()
                .all()
            )
            revocations = (
                await conn.execute(
                    sa.text(
                        "SELECT stream_id, data->>'reason' FROM events"
                        " WHERE type LIKE '%access_revocation_required%'"
                    )
                )
            ).all()
            after = await conn.scalar(sa.text("SELECT count(*) FROM events"))
    assert set(hashes) == {published.content_hash}
    assert sorted(revocations) == [(cid, "over_ceiling") for cid in cids]
    assert emitted == len(cids)
    assert after == before + emitted
    assert again == 0


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_a_publication_leaves_the_types_it_does_not_change_as_if_re_evaluated(
    database: str, postgres_admin_url: str, tmp_path: Path, clock: Clock
) -> None:
    """Contributors whose type's rules a new version keeps are not evaluated again: their
    evaluation is restamped with the new hash, and is exactly what evaluating would give.
    The others are evaluated, and only they get decisions."""
    types = set(ContributorTypes.defaults().names)
    partners, employees = ["p-1", "p-2"], ["e-1", "e-2", "e-3"]
    facts = [f for cid in partners for f in registered_with_grant(cid, clock.today)]
    facts += [f for cid in employees for f in registered_with_grant(cid, clock.today, "employee")]
    async with fresh_database(database, postgres_admin_url, tmp_path, "policy@head") as fresh:
        engine = fresh.engine
        policy = PolicyEngine(event_store_for(engine.dialect.name), types, clock)
        async with engine.begin() as conn:
            await policy.on_registry_events(conn, facts, {"actor": "test"})
            before = await _stream_lengths(conn)
        document = DEFAULT_POLICY.model_dump(mode="json")
        document["types"]["partner"]["access"]["ceiling"] = "public"
        published, emitted = await policy.publish(engine, document, "test", "lower partners")
        async with engine.connect() as conn:
            after = await _stream_lengths(conn)
            stored = {cid: await policy.evaluation_of(conn, cid) for cid in employees}
    grown = sorted(s for s, n in after.items() if n > before.get(s, 0) and s != POLICY_STREAM)
    assert grown == partners
    assert emitted == len(partners)
    in_force = validate_policy(document, types)
    for cid in employees:
        own = [f for f in facts if f.contributor_id == cid]
        view = fold((f.type, f.data, f.effective_time, f.version) for f in own)
        assert stored[cid] == evaluate(view, in_force, published.content_hash, clock.today)


async def _stream_lengths(conn: AsyncConnection) -> dict[str, int]:
    found = await conn.execute(sa.text("SELECT stream_id, count(*) FROM events GROUP BY stream_id"))
    return {str(stream): int(n) for stream, n in found}
