"""B4 (issue 4): the policy service. Re-evaluating every contributor when a policy is
published, beside the parts that publication is made of; and `POST /v1/access/check` over
HTTP, beside the bare FastAPI endpoint and the engine called without HTTP. One run.

    eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.policy

Publication runs in this process against its own schema; access checks go to `wfe serve
policy` in its own process (fresh database, private Kafka topics, relay included).
Prints the tables and rewrites this benchmark's section of docs/benchmarks.md. `--quick`
runs tiny sizes (seconds; figures meaningless) and writes docs only to an explicit
`--output`; `--profile DIR` adds py-spy profiles of the publication and of the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, replace
from pathlib import Path

import sqlalchemy as sa

from services.policy.shares import Sharing
from shared.db import create_engine
from shared.migrations import migrate
from shared.processes import cpus
from tests.bench.drivers import Measurement
from tests.bench.harness import Span
from tests.bench.policy_access import AccessBench, AccessPlan
from tests.bench.policy_publish import Phase, Publication, parts, publish
from tests.bench.policy_report import (
    access_tables,
    method,
    publication_table,
    targets,
    why,
)
from tests.bench.policy_seed import Seeding, discard_outbox, seed, seeded
from tests.bench.processes import Stack, bare_app, service, stack
from tests.bench.profiling import recording, summarize
from tests.bench.sections import RunRecord, Section, profile_option
from tests.bench.service_load import Result, Results
from tests.bench.service_main import PROFILE_METHOD, Report, arguments, finish, profile_tables
from tests.bench.tables import TableAdmin, checkpoint
from tests.servers import fresh_postgres_database

COMMAND = 'eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.policy'
KEY = "policy"
TITLE = "B6: policy publication and access checks (issue 4)"
PUBLISH_SCHEMA = "bench_publish"


@dataclass(frozen=True)
class Plan:
    name: str
    contributors: int
    template: int
    """Contributors folded by the engine itself; the rest are copies of them."""
    sample: int
    """Contributors each part of a publication is measured on alone."""
    access: AccessPlan


FULL = Plan(
    "full",
    contributors=100_000,
    template=400,
    sample=10_000,
    access=AccessPlan(
        contributors=4000,
        template=400,
        rate=500,
        open_loop=Span(seconds=20),
        peer_open_loop=Span(seconds=8),
        closed=Span(seconds=1.5),
        rounds=3,
    ),
)
QUICK = Plan(
    "quick",
    contributors=160,
    template=40,
    sample=100,
    access=AccessPlan(
        contributors=80,
        template=40,
        rate=200,
        open_loop=Span(events=60),
        peer_open_loop=Span(events=40),
        closed=Span(events=64),
        rounds=1,
        warmup=1,
        grace=5.0,
    ),
)


async def _publication(url: str, plan: Plan) -> tuple[Seeding, list[Phase], Publication]:
    engine = create_engine(url, schema=PUBLISH_SCHEMA, pool_size=2)
    try:
        await migrate(engine, PUBLISH_SCHEMA, "policy@head")
        seeding = await seed(engine, plan.contributors, plan.template)
        phases = await parts(engine, plan.sample)
        sharing = Sharing(url, PUBLISH_SCHEMA, cpus())
        publication = await publish(engine, seeding.contributors, sharing)
        # Counted and checked: dropped, or autovacuum would clean up after its 100,000
        # updates while the access checks are measured.
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {PUBLISH_SCHEMA} CASCADE"))
    finally:
        await engine.dispose()
    return seeding, phases, publication


async def _profiled_publication(url: str, plan: Plan, output: Path) -> str:
    """A second publication, on `sample` contributors of their own schema, in this process
    alone, under py-spy (it takes CPU from the process it samples: never from the measured
    publication)."""
    schema = f"{PUBLISH_SCHEMA}_profile"
    engine = create_engine(url, schema=schema, pool_size=2)
    try:
        await migrate(engine, schema, "policy@head")
        seeding = await seed(engine, plan.sample, plan.template)
        async with recording(os.getpid(), 600, output):
            await publish(engine, seeding.contributors, Sharing(url, schema, 1))
    finally:
        await engine.dispose()
    return f"PolicyEngine.publish, {seeding.contributors:,} contributors"


async def _access(
    url: str, where: Stack, plan: AccessPlan, profile: Path | None
) -> tuple[Results, list[tuple[str, Path]]]:
    engine = create_engine(url, schema="policy", pool_size=plan.connections // 2)
    try:
        await migrate(engine, "policy", "policy@head")
        await seed(engine, plan.contributors, plan.template)
        await discard_outbox(engine)
        ids = await seeded(engine)
        await checkpoint(engine)
        async with bare_app() as bare, service("policy", where) as server:
            bench = AccessBench(plan, server, bare, engine, ids)
            results = await bench.run()
            profiles = await bench.profile(profile, 8) if profile else []
    finally:
        await engine.dispose()
    return results, profiles


async def run(admin_url: str, kafka: str, plan: Plan, profile: Path | None = None) -> Report:
    record = RunRecord()
    async with fresh_postgres_database(admin_url) as url, stack(url, kafka) as where:
        server_facts = await TableAdmin.server_facts_at(url)
        seeding, phases, publication = await _publication(url, plan)
        results, profiles = await _access(url, where, plan.access, profile)
        if profile:
            output = profile / "policy-publish.txt"
            profiles.insert(0, (await _profiled_publication(url, plan, output), output))
    summaries = [(name, summarize(raw)) for name, raw in profiles]
    command = f"{COMMAND}{_options(plan)}{profile_option(profile)}"
    facts = record.facts(command, plan.name, server_facts)
    section = Section(
        KEY,
        TITLE,
        facts,
        targets(publication, phases, results, plan.access.rate),
        [
            publication_table(publication, phases),
            *access_tables(results),
            *profile_tables(summaries),
        ],
        [
            *why(publication, phases, results, plan.access.rate, summaries),
            *method(seeding, plan.sample, plan.access),
            *([PROFILE_METHOD] if profile else []),
        ],
    )
    published = Result(
        "policy publication",
        f"re-evaluate {publication.contributors:,}",
        1,
        Measurement(publication.decisions, publication.seconds),
        1,
        stored=publication.stored,
    )
    return Report(section, [*results.all, published])


def _options(plan: Plan) -> str:
    if plan.name == QUICK.name:
        return " --quick"
    return "" if plan.contributors == FULL.contributors else f" --contributors {plan.contributors}"


def main() -> None:
    def contributors(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--contributors",
            type=int,
            help=f"contributors re-evaluated by the publication (default: {FULL.contributors:,})",
        )

    args = arguments(__doc__, contributors)
    plan = QUICK if args.quick else FULL
    if args.contributors:
        plan = replace(
            plan, contributors=args.contributors, sample=min(plan.sample, args.contributors)
        )
    report = asyncio.run(run(args.database_url, args.kafka, plan, args.profile))
    finish(report, args, after=["store", "registry-http"])


if __name__ == "__main__":
    main()
