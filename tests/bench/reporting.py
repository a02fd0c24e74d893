"""B5, B4, B7 (issues 5 and 9): the reporting service. Rebuilding the projections from
offset 0 beside the raw consume rate of the same topics; end-to-end freshness from a
registry POST to the reports and to a policy decision; the memory of every service after
a large history went through it. One run.

    eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.reporting

The rebuild runs from this process (which starts the others it uses) on generated
private topics; freshness and memory use
`wfe serve registry`, `wfe serve policy` and `wfe serve reporting` in processes of their
own (fresh database, private topics). Prints the tables and rewrites this benchmark's
section of docs/benchmarks.md. `--quick` runs tiny sizes (seconds; figures meaningless)
and writes docs only to an explicit `--output`; `--profile DIR` adds a py-spy profile of
the rebuild.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.reporting.rebuild import REBUILD_BATCH, REBUILD_CACHE
from shared.db import create_engine
from tests.bench.processes import Stack, service, stack
from tests.bench.profiling import recording, summarize
from tests.bench.reporting_freshness import Freshness, Watcher, measure, warm_up
from tests.bench.reporting_memory import Fed, Rss, feed_registry, resident, settle
from tests.bench.reporting_rebuild import Rebuilt, fill, measure_rebuild
from tests.bench.reporting_report import (
    cpu_table,
    freshness_table,
    is_complete,
    memory_table,
    method,
    rebuild_tables,
    targets,
    why,
)
from tests.bench.sections import (
    DOCS,
    RunRecord,
    Section,
    print_section,
    profile_option,
    write,
)
from tests.bench.service_main import arguments, profile_tables
from tests.bench.tables import TableAdmin, checkpoint
from tests.servers import fresh_postgres_database

COMMAND = 'eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.reporting'
KEY = "reporting"
TITLE = "B5, B4, B7: reporting rebuild, end-to-end freshness, memory (issues 5 and 9)"
PROFILE = (
    "Profile (`--profile DIR`): py-spy samples this process at 250 Hz during an extra"
    " rebuild in one process, of the comparison's size, after the measurements, counting only the"
    " event-loop thread's samples that hold the GIL. library: the package of the innermost"
    " frame; ours: share of samples with that function of ours on the stack; leaf:"
    " innermost frames. Raw samples stay in DIR, for flame graphs."
)
CURRENT = (REBUILD_BATCH, REBUILD_CACHE, None)
"""The rebuild's events per transaction, contributors held and processes (None: one per
CPU), as `wfe rebuild` runs it."""
ONE_PROCESS = (REBUILD_BATCH, REBUILD_CACHE, 1)
OLD_SETTINGS = (500, 0, 1)
"""As the rebuild was before the fixes in docs/benchmarks.md's last table."""


@dataclass(frozen=True)
class Plan:
    name: str
    events: int
    """On the topics the rebuild reads (registry events and policy decisions)."""
    chunk: int
    """Contributors per generated cohort."""
    before: int
    """Events the rebuild before the fixes is compared on."""
    rates: tuple[float, ...]
    seconds: float
    batch: int
    """Contributors per CloudEvents batch in the batched freshness run (0: none)."""
    batch_rate: float
    memory_events: int
    settle: float
    """Seconds allowed for B7's services to catch up."""
    warmup: int = 20
    grace: float = 2.0


FULL = Plan(
    "full",
    events=1_000_000,
    chunk=2000,
    before=100_000,
    rates=(100, 500, 1000),
    seconds=20,
    batch=50,
    batch_rate=500,
    memory_events=1_000_000,
    settle=1800,
)
QUICK = Plan(
    "quick",
    events=400,
    chunk=20,
    before=200,
    rates=(50,),
    seconds=2,
    batch=10,
    batch_rate=50,
    memory_events=300,
    settle=120,
    warmup=5,
    grace=5.0,
)


@dataclass
class Outcome:
    section: Section
    rebuilt: Rebuilt
    alone: Rebuilt
    """The same rebuild in one process."""
    before: Rebuilt
    freshness: list[Freshness]
    memory: list[Rss]
    fed: Fed

    @property
    def all_stored(self) -> bool:
        """Every measurement saw everything it was fed (the suite's "stored")."""
        return (
            self.before.saw_everything
            and self.alone.saw_everything
            and is_complete(self.rebuilt, self.freshness, self.memory)
        )


async def _rebuilds(
    admin_url: str,
    kafka: str,
    events: int,
    chunk: int,
    variants: Sequence[tuple[int, int, int | None]],
) -> list[Rebuilt]:
    """Rebuilds of the same topics, one per (batch, held, processes), one after the other."""
    async with fresh_postgres_database(admin_url) as url, stack(url, kafka) as where:
        written = await fill(where, events, chunk)
        return [await measure_rebuild(where, written, *variant) for variant in variants]


async def _profiled_rebuild(admin_url: str, kafka: str, plan: Plan, output: Path) -> str:
    """Another rebuild, of the comparison's size, under py-spy (it takes CPU from the
    process it samples: never from a measured rebuild)."""
    async with fresh_postgres_database(admin_url) as url, stack(url, kafka) as where:
        written = await fill(where, plan.before, plan.chunk)
        async with recording(os.getpid(), 1800, output):
            await measure_rebuild(where, written, *ONE_PROCESS)
    return f"rebuild of {written.events:,} events (one process)"


async def _pipeline(url: str, where: Stack, plan: Plan) -> tuple[list[Freshness], list[Rss], Fed]:
    async with (
        service("registry", where) as registry,
        service("policy", where) as policy,
        service("reporting", where) as reporting,
    ):
        servers = {"registry": registry, "policy": policy, "reporting": reporting}
        engine = create_engine(url, schema="reporting", pool_size=2)
        watcher = Watcher(engine, where.kafka, where.topics["policy"])
        await watcher.start()
        try:
            await warm_up(registry, watcher, plan.warmup)
            found = []
            runs = [(rate, 1) for rate in plan.rates]
            if plan.batch:
                runs.append((plan.batch_rate, plan.batch))
            for rate, batch in runs:
                await checkpoint(engine)
                found.append(
                    await measure(
                        registry,
                        watcher,
                        rate=rate,
                        seconds=plan.seconds,
                        batch=batch,
                        # uvicorn closes a keep-alive connection idle for 5 s: few
                        # connections for the few arrivals per second of batches.
                        connections=64 if batch == 1 else 16,
                        grace=plan.grace,
                        settle=30,
                        watched_processes=servers,
                    )
                )
        finally:
            await watcher.stop()
            await engine.dispose()
        fed = await feed_registry(where, plan.memory_events, plan.chunk)
        state = await settle(where, plan.settle)
        return found, resident(servers, state, fed), fed


async def run(admin_url: str, kafka: str, plan: Plan, profile: Path | None = None) -> Outcome:
    record = RunRecord()
    rebuilt, alone = await _rebuilds(
        admin_url, kafka, plan.events, plan.chunk, [CURRENT, ONE_PROCESS]
    )
    (before,) = await _rebuilds(admin_url, kafka, plan.before, plan.chunk, [OLD_SETTINGS])
    async with fresh_postgres_database(admin_url) as url, stack(url, kafka) as where:
        server_facts = await TableAdmin.server_facts_at(url)
        freshness, memory, fed = await _pipeline(url, where, plan)
    profiles = []
    if profile:
        output = profile / "reporting-rebuild.txt"
        profiles.append((await _profiled_rebuild(admin_url, kafka, plan, output), output))
    command = f"{COMMAND}{' --quick' if plan is QUICK else ''}{profile_option(profile)}"
    facts = record.facts(command, plan.name, server_facts)
    summaries = [(name, summarize(raw)) for name, raw in profiles]
    described = method(rebuilt, freshness, fed, plan.settle)
    section = Section(
        KEY,
        TITLE,
        facts,
        targets(rebuilt, freshness, plan.batch_rate),
        [
            *rebuild_tables(rebuilt, alone, before),
            freshness_table(freshness),
            cpu_table(freshness),
            memory_table(memory),
            *profile_tables(summaries),
        ],
        [
            *why(rebuilt, alone, freshness, summaries, plan.batch_rate),
            *described,
            *([PROFILE] if profile else []),
        ],
    )
    return Outcome(section, rebuilt, alone, before, freshness, memory, fed)


def main() -> None:
    args = arguments(__doc__)
    plan = QUICK if args.quick else FULL
    outcome = asyncio.run(run(args.database_url, args.kafka, plan, args.profile))
    print_section(outcome.section)
    output = args.output or (None if args.quick else DOCS)
    if output is not None:
        write(output, outcome.section, after=["store", "registry-http", "policy"])
        print(f"wrote {output}")
    if not outcome.all_stored:
        sys.exit("some measurement did not see every event it should have")


if __name__ == "__main__":
    main()
