"""Contributors for the policy benchmark, in the policy service's own tables.

A template of contributors of every type is folded by `PolicyEngine.on_registry_events`
itself, from the registry events an active contributor has (registered, onboarding, every
required check passed, a contract where the type needs one, activated, one grant at the
type's ceiling), so views, evaluations, decision streams and timers are exactly what the
service keeps. The engine records each event separately (a few statements per event), so
reaching 100,000 contributors that way would take most of an hour: the template's rows are
then copied in SQL under new contributor ids, as many times as needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.policy.domain.document import DEFAULT_POLICY, TypeRules
from services.policy.engine import PolicyEngine, RegistryFact
from services.policy.shares import Sharing
from services.registry.domain import events as registry
from services.registry.domain.values import CLASSIFICATIONS
from shared.eventstore.store import PostgresEventStore

TYPES: tuple[str, ...] = tuple(sorted(DEFAULT_POLICY.types))
SEED_BATCH = 50
"""Contributors per `on_registry_events` call (and transaction)."""


def policy_engine(sharing: Sharing | None = None) -> PolicyEngine:
    return PolicyEngine(PostgresEventStore(), set(TYPES), sharing=sharing)


def _facts(
    contributor_id: str, type_name: str, rules: TypeRules, now: datetime
) -> list[RegistryFact]:
    today = now.date()
    far = str(today + timedelta(days=300))
    access = rules.access
    system = access.allowed_systems[0] if access.allowed_systems != "*" else "crm"
    grant_days = min(access.max_grant_days or 30, 30) - 2
    facts: list[tuple[str, dict[str, Any]]] = [
        (
            registry.Registered.TYPE,
            {"contributor_id": contributor_id, "contributor_type": type_name, "sponsor": "s-1"},
        ),
        (registry.OnboardingStarted.TYPE, {"contributor_id": contributor_id}),
    ]
    facts += [
        (registry.CheckRecorded.TYPE, {"check": check, "outcome": "passed", "valid_until": far})
        for check in sorted(rules.compliance.checks)
    ]
    if access.requires_contract:
        start = str(today - timedelta(days=20))
        contract = {"contract_id": "k-1", "start": start, "end": far}
        facts.append((registry.ContractAdded.TYPE, contract))
    facts.append((registry.Activated.TYPE, {"contributor_id": contributor_id}))
    grant = {
        "grant_id": "g-1",
        "resource": system,
        "classification": access.ceiling,
        "expires_at": (now + timedelta(days=grant_days)).isoformat(),
    }
    facts.append((registry.AccessGranted.TYPE, grant))
    began = now - timedelta(days=30)
    return [
        RegistryFact(contributor_id, kind, data, began + timedelta(days=i), i + 1)
        for i, (kind, data) in enumerate(facts)
    ]


def template_ids(count: int) -> Iterator[tuple[str, str]]:
    """(contributor id, type): the types in turn."""
    for n in range(count):
        yield f"t{n:05d}", TYPES[n % len(TYPES)]


async def seed_template(engine: AsyncEngine, count: int) -> int:
    """`count` contributors through the engine; returns the decisions it recorded."""
    policy = policy_engine()
    now = datetime.now(UTC)
    people = list(template_ids(count))
    decisions = 0
    for start in range(0, len(people), SEED_BATCH):
        facts = [
            fact
            for cid, kind in people[start : start + SEED_BATCH]
            for fact in _facts(cid, kind, DEFAULT_POLICY.types[kind], now)
        ]
        async with engine.begin() as conn:
            decisions += await policy.on_registry_events(conn, facts, {"actor": "bench-seed"})
    return decisions


_COPY = [
    """INSERT INTO contributor_policy
           (contributor_id, view, evaluation, timer_keys, stream_version, updated_at)
       SELECT p.contributor_id || :suffix || g,
              jsonb_set(p.view, '{id}', to_jsonb(p.contributor_id || :suffix || g)),
              jsonb_set(p.evaluation, '{contributor_id}',
                        to_jsonb(p.contributor_id || :suffix || g)),
              p.timer_keys, p.stream_version, p.updated_at
       FROM contributor_policy p CROSS JOIN generate_series(1, :copies) g
       WHERE p.contributor_id LIKE 't%' AND p.contributor_id NOT LIKE '%-%'""",
    """INSERT INTO timers (contributor_id, due, kind, subject_ref, fired_at)
       SELECT t.contributor_id || :suffix || g, t.due, t.kind, t.subject_ref, t.fired_at
       FROM timers t CROSS JOIN generate_series(1, :copies) g
       WHERE t.contributor_id NOT LIKE '%-%'""",
    """INSERT INTO events (event_id, stream_id, version, type, data, metadata,
                           effective_time, recorded_time)
       SELECT gen_random_uuid(), e.stream_id || :suffix || g, e.version, e.type, e.data,
              e.metadata, e.effective_time, e.recorded_time
       FROM events e CROSS JOIN generate_series(1, :copies) g
       WHERE e.stream_id LIKE 't%' AND e.stream_id NOT LIKE '%-%'""",
]


async def copy_template(engine: AsyncEngine, copies: int) -> None:
    """Adds `copies` copies of the template under ids `<template id>-c<n>`. The template's
    decisions stay in the outbox: nothing here publishes them."""
    if copies < 1:
        return
    async with engine.begin() as conn:
        for statement in _COPY:
            await conn.execute(sa.text(statement), {"suffix": "-c", "copies": copies})
        await conn.execute(sa.text("ANALYZE contributor_policy, timers, events"))


@dataclass(frozen=True)
class Seeding:
    contributors: int
    template: int
    template_seconds: float
    copy_seconds: float


async def seed(engine: AsyncEngine, contributors: int, template: int) -> Seeding:
    """`contributors` contributors (a multiple of `template`, rounded up)."""
    template = min(template, contributors)
    began = time.perf_counter()
    await seed_template(engine, template)
    folded = time.perf_counter()
    copies = -(-contributors // template) - 1
    await copy_template(engine, copies)
    copied = time.perf_counter()
    return Seeding(template * (copies + 1), template, folded - began, copied - folded)


async def discard_outbox(engine: AsyncEngine) -> None:
    """Seeded decisions are set-up, not news: no relay should spend the run publishing them."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM outbox"))


async def seeded(engine: AsyncEngine) -> list[tuple[str, str]]:
    """(contributor id, type) of every contributor in the tables."""
    query = sa.text("SELECT contributor_id, view->>'contributor_type' FROM contributor_policy")
    async with engine.connect() as conn:
        return [(str(row[0]), str(row[1])) for row in await conn.execute(query)]


def lowered_ceilings() -> dict[str, Any]:
    """The default policy with every ceiling above `public` one classification lower: every
    contributor of those types holds a grant at the old ceiling, which must now go."""
    document = DEFAULT_POLICY.model_dump(mode="json")
    for rules in document["types"].values():
        rank = CLASSIFICATIONS.index(rules["access"]["ceiling"])
        rules["access"]["ceiling"] = CLASSIFICATIONS[max(0, rank - 1)]
    return document


def affected_types() -> Sequence[str]:
    return [t for t in TYPES if DEFAULT_POLICY.types[t].access.ceiling != "public"]
