"""`POST /v1/access/check` under load, beside the bare FastAPI endpoint (the HTTP ceiling) and
the engine's own `access` called in this process (the database and Cedar, without HTTP).

Requests name a random seeded contributor, the system their type may use, a random
classification up to `confidential` and the sponsor's approval: some are permitted, some
refused over the ceiling, all answered 200 with the rules that decided.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.policy.domain.document import DEFAULT_POLICY
from tests.bench.drivers import AsyncAppend, Budget, closed_loop, open_loop
from tests.bench.harness import Span
from tests.bench.http_client import Call, CallFactory, Endpoint, Response
from tests.bench.policy_seed import policy_engine
from tests.bench.processes import Server
from tests.bench.profiling import recording
from tests.bench.registry_calls import registrations
from tests.bench.service_load import Result, Results, http_closed, http_open, in_process

POLICY = "policy access check"
BARE = "bare FastAPI"
ENGINE = "engine alone"
CHECK = "1 check/request"
_CLASSIFICATIONS = ("public", "internal", "confidential")


@dataclass(frozen=True)
class AccessPlan:
    contributors: int
    template: int
    rate: int
    open_loop: Span
    peer_open_loop: Span
    closed: Span
    rounds: int
    clients: int = 32
    connections: int = 64
    warmup: int = 3
    grace: float = 2.0


def _question(rng: random.Random, ids: list[tuple[str, str]]) -> dict[str, Any]:
    contributor, kind = rng.choice(ids)
    systems = DEFAULT_POLICY.types[kind].access.allowed_systems
    return {
        "contributor_id": contributor,
        "resource": systems[0] if systems != "*" else "crm",
        "classification": rng.choice(_CLASSIFICATIONS),
        "approvals": ["s-1"],
    }


def access_checks(endpoint: Endpoint, ids: list[tuple[str, str]]) -> CallFactory:
    rng = random.Random(7)

    def answered(response: Response) -> int:
        return 1 if response.status == 200 else 0

    def call() -> Call:
        body = json.dumps(_question(rng, ids), separators=(",", ":")).encode()
        return Call(
            endpoint.request("POST", "/v1/access/check", body, "application/json"), answered
        )

    return call


def engine_checks(engine: AsyncEngine, ids: list[tuple[str, str]]) -> Callable[[], AsyncAppend]:
    """Appends for the drivers that ask the engine directly, one connection each call."""
    policy, rng = policy_engine(), random.Random(7)

    def make() -> AsyncAppend:
        async def check() -> int:
            q = _question(rng, ids)
            async with engine.connect() as conn:
                answer = await policy.access(
                    conn,
                    q["contributor_id"],
                    q["resource"],
                    q["classification"],
                    "access",
                    q["approvals"],
                    None,
                )
            return 1 if answer is not None else 0

        return check

    return make


class AccessBench:
    def __init__(
        self,
        plan: AccessPlan,
        policy: Server,
        bare: Server,
        engine: AsyncEngine,
        ids: list[tuple[str, str]],
    ) -> None:
        self.plan = plan
        self.policy = policy
        self.bare = bare
        self.engine = engine
        self.ids = ids
        self.results = Results()

    async def run(self) -> Results:
        plan = self.plan
        for _ in range(plan.rounds):
            for subject, server, calls in self._http():
                self.results.add(
                    await http_closed(
                        subject,
                        CHECK,
                        server,
                        calls,
                        clients=plan.clients,
                        per_request=1,
                        span=plan.closed,
                        warmup=plan.warmup,
                        stored=None,
                    )
                )
            self.results.add(await self._engine_closed())
        for subject, server, calls in self._http():
            span = plan.open_loop if subject == POLICY else plan.peer_open_loop
            self.results.add(
                await http_open(
                    subject,
                    CHECK,
                    server,
                    calls,
                    connections=plan.connections,
                    rate=float(plan.rate),
                    arrivals=span.arrivals(plan.rate),
                    grace=plan.grace,
                    stored=None,
                )
            )
        self.results.add(await self._engine_open())
        return self.results

    def _http(self) -> list[tuple[str, Server, CallFactory]]:
        return [
            (POLICY, self.policy, access_checks(self.policy.endpoint, self.ids)),
            (BARE, self.bare, registrations(self.bare.endpoint, "/v1/echo")),
        ]

    async def _engine_closed(self) -> Result:
        make = engine_checks(self.engine, self.ids)
        writers = self.plan.clients
        await closed_loop([make() for _ in range(writers)], 1, Budget(events=writers))
        began = time.process_time()
        m = await closed_loop([make() for _ in range(writers)], 1, self.plan.closed.budget())
        return in_process(ENGINE, CHECK, writers, m, None, time.process_time() - began)

    async def _engine_open(self) -> Result:
        make = engine_checks(self.engine, self.ids)
        plan = self.plan
        appends = [make() for _ in range(plan.connections)]
        await closed_loop(appends, 1, Budget(events=plan.connections))
        began = time.process_time()
        arrivals = plan.peer_open_loop.arrivals(plan.rate)
        done = await open_loop(appends, float(plan.rate), arrivals, plan.grace)
        cpu = time.process_time() - began
        return in_process(
            ENGINE,
            CHECK,
            plan.connections,
            done.measurement,
            None,
            cpu,
            float(plan.rate),
            done.unanswered,
        )

    async def profile(self, directory: Path, seconds: float) -> list[tuple[str, Path]]:
        """py-spy on the policy service while it answers checks, closed loop."""
        output = directory / "policy-access.txt"
        async with recording(self.policy.pid, seconds, output):
            await http_closed(
                POLICY,
                CHECK,
                self.policy,
                access_checks(self.policy.endpoint, self.ids),
                clients=self.plan.clients,
                per_request=1,
                span=Span(seconds=seconds),
                warmup=0,
                stored=None,
            )
        return [(f"{POLICY}, {self.plan.clients} clients, closed loop", output)]
