"""B3 (issue 3): registry writes over HTTP, side by side with the HTTP ceiling (a bare
FastAPI endpoint) and the database ceiling (our event store alone), in one run.

    eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.registry_http

The registry runs as `wfe serve registry` in its own process, on a fresh database and
private Kafka topics (relay included, as deployed); this process generates the load.
Prints the tables and rewrites this benchmark's section of docs/benchmarks.md. `--quick`
runs each measurement on a few dozen requests (seconds; figures meaningless) and writes
docs only to an explicit `--output`; `--profile DIR` adds py-spy profiles of the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from tests.bench.harness import Span
from tests.bench.ours import OurStore
from tests.bench.processes import bare_app, service, stack
from tests.bench.profiling import Profile, summarize, top_libraries
from tests.bench.raw import RawAsyncpg
from tests.bench.registry_measure import (
    BARE,
    CE,
    RAW,
    REST,
    SINGLE,
    STORE,
    Plan,
    RegistryBench,
    batch,
)
from tests.bench.sections import (
    RunRecord,
    Section,
    Target,
    cores,
    figure,
    plural,
    profile_option,
    ratio,
)
from tests.bench.service_load import Results
from tests.bench.service_main import PROFILE_METHOD, Report, arguments, finish, profile_tables
from tests.bench.service_tables import closed_table, open_table
from tests.bench.tables import TableAdmin
from tests.servers import fresh_postgres_database

COMMAND = 'eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.registry_http'
KEY = "registry-http"
TITLE = "B3: registry writes over HTTP (issue 3)"

FULL = Plan(
    "full",
    single=Span(seconds=1.5),
    batch=Span(seconds=1.5),
    open_loop=Span(seconds=4),
    rounds=2,
    open_rates=(250, 500, 1000),
    batch_sizes=(1000, 100),
)
QUICK = Plan(
    "quick",
    single=Span(events=32),
    batch=Span(events=100),
    open_loop=Span(events=40),
    rounds=1,
    open_rates=(200,),
    batch_sizes=(50, 10),
    warmup=1,
    grace=5.0,
    history=200,
)
SINGLE_TARGET, BATCH_TARGET, P99_TARGET = 2500.0, 30000.0, 50.0


def _versus(ours: float, peer_name: str, peer: float | None, unit: str) -> str:
    return f"{ratio(ours, peer)} {peer_name} ({figure(peer)} {unit})" if peer else ""


def targets(results: Results, plan: Plan) -> list[Target]:
    found: list[Target] = []
    bare, store = results.find(BARE, SINGLE), results.find(STORE, SINGLE)
    for subject in (REST, CE):
        r = results.find(subject, SINGLE)
        if r is None:
            continue
        peers = [
            _versus(r.rate, BARE, bare.rate if bare else None, "req/s"),
            _versus(
                r.rate, f"{STORE}, {plan.clients} writers", store.rate if store else None, "ev/s"
            ),
        ]
        claim = f"single-event writes, {plan.clients} clients: {subject}"
        found.append(Target(claim, r.rate, SINGLE_TARGET, "ev/s", "; ".join(p for p in peers if p)))
    size = max(plan.batch_sizes)
    batched = results.find(CE, batch(size))
    if batched is not None:
        peers = []
        for peer in (STORE, RAW):
            other = results.find(peer, batch(size))
            rate = other.rate if other else None
            peers.append(_versus(batched.rate, f"{peer}, same batches", rate, "ev/s"))
        claim = f"batch ingestion, {batch(size)}, {plural(plan.batch_clients, 'client')}"
        found.append(
            Target(claim, batched.rate, BATCH_TARGET, "ev/s", "; ".join(p for p in peers if p))
        )
    top = float(max(plan.open_rates))
    for subject in (REST, CE):
        r = results.find(subject, SINGLE, top)
        if r is None:
            continue
        p99 = r.measurement.percentile_ms(99) or 0.0
        peers = [f"answered {r.rate:,.0f}/s of {top:,.0f}/s offered"]
        for peer in (BARE, STORE):
            other = results.find(peer, SINGLE, top)
            value = other.measurement.percentile_ms(99) if other else None
            if value:
                peers.append(_versus(p99, f"{peer} p99", value, "ms"))
        claim = f"p99 at {top:,.0f} ev/s offered, open loop: {subject}"
        found.append(Target(claim, p99, P99_TARGET, "ms", "; ".join(peers), at_most=True))
    return found


def why(results: Results, plan: Plan, profiles: Sequence[tuple[str, Profile]]) -> list[str]:
    """For each target missed, what this run's own figures say stands in the way."""
    notes: list[str] = []
    bare, store = results.find(BARE, SINGLE), results.find(STORE, SINGLE)
    singles = [r for r in (results.find(s, SINGLE) for s in (REST, CE)) if r is not None]
    best = max((r.rate for r in singles), default=0.0)
    if singles and best < SINGLE_TARGET and store is not None and bare is not None:
        notes.append(
            f"Why the single-event target is missed here: our event store alone, with no HTTP,"
            f" appends {figure(store.rate)} ev/s with {plan.clients} writers on this machine,"
            f" and the bare FastAPI endpoint, with no database, answers {figure(bare.rate)}"
            f" req/s; a registry write needs both, on the same two CPUs as PostgreSQL, Kafka"
            f" and the load generator. Group commit brings the registry to"
            f" {ratio(best, store.rate)} of the store alone. Where the service's time goes:"
            f" {top_libraries(profiles, 'REST')}."
        )
    size = max(plan.batch_sizes)
    batched, store_batch = results.find(CE, batch(size)), results.find(STORE, batch(size))
    raw_batch = results.find(RAW, batch(size))
    if batched is not None and batched.rate < BATCH_TARGET and store_batch is not None:
        floor = f" (a raw COPY of them, {figure(raw_batch.rate)} ev/s)" if raw_batch else ""
        notes.append(
            f"Why the batch target is missed here: the store alone appends"
            f" {figure(store_batch.rate)} ev/s in the same batches{floor}, without HTTP or"
            " validation; every posted event is also validated as a CloudEvent, parsed"
            " against the catalogue, turned into a command and decided in Python. Where the"
            f" service's time goes: {top_libraries(profiles, 'batch')}."
        )
    top = float(max(plan.open_rates))
    if best and best < top:
        notes.append(
            f"Why the latency target is missed here: {top:,.0f} single writes/s offered is"
            f" more than the {figure(best)} ev/s the registry completes at most here (closed"
            " loop), so requests queue without bound and their latency with them."
        )
    elif best:
        notes.extend(_busy_tails(results, top, best))
    return notes


def _busy_tails(results: Results, rate: float, best: float) -> list[str]:
    """The open loops that miss the latency target although the registry can keep up."""
    notes = []
    for subject in (REST, CE):
        found = results.find(subject, SINGLE, rate)
        p99 = found.measurement.percentile_ms(99) if found else None
        if found is None or p99 is None or p99 <= P99_TARGET:
            continue
        cpu = f" at {cores(found.service_cpu, found.measurement.seconds)} CPU"
        notes.append(
            f"Why the latency target is missed here ({subject}): {rate:,.0f} writes/s offered"
            f" is {ratio(rate, best)} of the most the registry completes here ({figure(best)}"
            f" ev/s, closed loop); the service runs{cpu}, beside PostgreSQL, Kafka and the"
            " load generator on two CPUs, so arrivals that meet a busy moment wait: p50"
            f" {figure(found.measurement.percentile_ms(50) or 0.0)} ms, p99 {figure(p99)} ms."
        )
    return notes


def method(plan: Plan) -> list[str]:
    return [
        "Servers run in their own processes, one uvicorn worker each, as deployed: the"
        " registry is `wfe serve registry` (relay publishing to Kafka included) on a fresh"
        " database and private Kafka topics, configured by `WFE_*` variables; the bare"
        " reference is a FastAPI app with one JSON POST route that validates a"
        " registration-shaped body with pydantic and answers it back (no database). This"
        " process generates the load with a minimal HTTP/1.1 keep-alive client (prepared"
        " request bytes, one connection per client), so that it takes little CPU from them.",
        f"{REST}: `POST /v1/contributors`, a new contributor each (unique email, so the"
        " duplicate check runs) with an `Idempotency-Key`, as an HR tool sends it; 201 stores"
        f" one event. {CE}: `POST /v1/events`, one structured CloudEvent"
        " (`registered`, unique source id), 202 stores one event; batches: the same events"
        " as `application/cloudevents-batch+json`. Store alone: `PostgresEventStore.append`"
        f" in `engine.begin()` from this process, {plan.clients} writers (one pooled"
        " connection each), own schema of the same database; its batches append to one new"
        " stream per call. Raw COPY (issue 9's B2 floor for batches): asyncpg's"
        " `copy_records_to_table` of the same number of events, and their outbox rows, in"
        " one transaction, into tables of the same migration in a schema of their own.",
        "Closed loop: every client sends its next request when the last is answered;"
        " latency = one request. Open loop: requests arrive at a fixed rate whatever the"
        f" answers, over up to {plan.open_connections} connections; latency runs from each"
        " arrival's scheduled time to its answer, so queueing counts. Requests still"
        f" unanswered {plan.grace:g} s after the last arrival was due are given up on and"
        " count as infinitely late (∞).",
        f"Each closed-loop figure adds up {plan.rounds} slices, one per round, of"
        f" {plan.single.seconds or 0:g} s (single events) or {plan.batch.seconds or 0:g} s"
        " (batches; a batch that starts before the time is up still counts); within a round"
        f" the services take turns. Open loops: {plan.open_loop.seconds or 0:g} s at each rate."
        " Before each measurement the registry's outbox is drained (relay caught up).",
        f"Before the first, the registry is given {plan.history:,} contributors of history"
        f" (CloudEvents batches) and {max(plan.history // 10, plan.clients):,} more through"
        " REST with idempotency keys, and its tables are analysed, as a registry in service"
        " has them, like the store's (B1/B2). On tables that grow from empty, PostgreSQL"
        " plans lookups as sequential scans until autovacuum first analyses them, a minute"
        ' or more in (docs/foundation.md, "Service processes"): in a 20 s probe, 637 scans'
        " of the contributors for the duplicate-email check read 2.2 million rows.",
        "After each measurement the events stored are counted (registry: new rows of its"
        " events table; store and raw COPY: rows after emptying it first) and must cover every"
        " acknowledged event. Service CPU: CPU time of the server process (store alone:"
        " this process) per second of measurement; load CPU: this process, generating HTTP.",
    ]


async def run(admin_url: str, kafka: str, plan: Plan, profile: Path | None = None) -> Report:
    record = RunRecord()
    async with fresh_postgres_database(admin_url) as url, stack(url, kafka) as where:
        admin = await TableAdmin.connect(url)
        try:
            store = OurStore(url, "bench_store", admin)
            raw = RawAsyncpg(url, "bench_raw", admin, outbox=True)
            await store.create()
            await raw.create()
            server_facts = await admin.server_facts()
            async with bare_app() as bare, service("registry", where) as registry:
                bench = RegistryBench(plan, registry, bare, store, raw, admin)
                results = await bench.run()
                profiles = await bench.profile(profile, 8) if profile else []
        finally:
            await admin.close()
    command = f"{COMMAND}{' --quick' if plan is QUICK else ''}{profile_option(profile)}"
    facts = record.facts(command, plan.name, server_facts)
    summaries = [(name, summarize(raw)) for name, raw in profiles]
    described = [
        *why(results, plan, summaries),
        *method(plan),
        *([PROFILE_METHOD] if profile else []),
    ]
    section = Section(KEY, TITLE, facts, targets(results, plan), method=described)
    section.tables = [
        closed_table("Closed loop", results.all, "events", "ev/s"),
        open_table("Open loop: fixed arrival rates", results.all),
        *profile_tables(summaries),
    ]
    return Report(section, results.all)


def main() -> None:
    args = arguments(__doc__)
    plan = QUICK if args.quick else FULL
    report = asyncio.run(run(args.database_url, args.kafka, plan, args.profile))
    finish(report, args, after=["store"])


if __name__ == "__main__":
    main()
