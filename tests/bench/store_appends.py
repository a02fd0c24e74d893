"""B1/B2 (issues 2 and 9): event store appends, ours side by side with raw asyncpg and the
`eventsourcing` library, on the same PostgreSQL in one run.

    eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.store_appends

Prints the tables and rewrites this benchmark's section of docs/benchmarks.md. `--quick`
runs every measurement on a hundred events or so (seconds; figures meaningless) and writes
docs only to an explicit `--output`. Each implementation gets its own schema, dropped at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.harness import OPEN_LOOP_WRITERS, SINGLE, Harness, Plan, Span
from tests.bench.machine import describe_machine
from tests.bench.ours import OurWriters
from tests.bench.raw import RawWriters
from tests.bench.report import (
    Comparison,
    StoreReport,
    Target,
    markdown_section,
    print_report,
    write_section,
)
from tests.bench.tables import TableAdmin
from tests.bench.workload import STREAM_LENGTH, sizes

COMMAND = 'eval "$(.venv/bin/wfe stack env)" && .venv/bin/python -m tests.bench.store_appends'
DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"

FULL = Plan(
    "full", Span(seconds=1.5), Span(seconds=1), Span(seconds=1.5), warmup_appends=5, rounds=3
)
QUICK = Plan(
    "quick", Span(events=100), Span(events=2000), Span(events=50), warmup_appends=1, history=500
)
BATCH, COPY_BATCH = 100, 1000
GROUPED = "1 event/append, group commit"


def ours_batch(size: int) -> str:
    return f"{size:,}/append"


def executemany(size: int) -> str:
    return f"executemany {size:,}"


def copy(size: int) -> str:
    return f"COPY {size:,}"


async def _measure(h: Harness) -> None:
    # The machine is shared: its load drifts. Interleaving the implementations, and taking
    # each figure in slices over several rounds, spreads that drift over all of them.
    plan = h.plan
    for _ in range(plan.rounds):
        for writers in plan.concurrencies:
            await h.closed(h.ours, writers, OurWriters.single, 1, SINGLE, plan.single)
            await h.closed(h.ours, writers, OurWriters.grouped, 1, GROUPED, plan.single)
            await h.closed(h.raw, writers, RawWriters.single, 1, SINGLE, plan.single)
            await h.closed(h.bare, writers, RawWriters.single, 1, SINGLE, plan.single)
            await h.library_closed(writers)
        await _batches(h)

    at = min(OPEN_LOOP_WRITERS, max(plan.concurrencies))
    slowest = min(r.rate for r in h.results if r.workload == SINGLE and r.writers == at)
    rate = max(1.0, plan.open_loop_load * slowest)
    for _ in range(plan.rounds):
        await h.opened(h.ours, OurWriters.single, rate)
        await h.opened(h.ours, OurWriters.grouped, rate, GROUPED)
        await h.opened(h.raw, RawWriters.single, rate)
        await h.opened(h.bare, RawWriters.single, rate)
        await h.library_opened(rate)


async def _batches(h: Harness) -> None:
    span, small, big = h.plan.batch, BATCH, COPY_BATCH
    await h.closed(h.ours, 1, lambda w: w.batch(small), small, ours_batch(small), span)
    await h.closed(h.raw, 1, lambda w: w.executemany(small), small, executemany(small), span)
    await h.closed(h.bare, 1, lambda w: w.executemany(small), small, executemany(small), span)
    await h.closed(h.ours, 1, lambda w: w.batch(big), big, ours_batch(big), span)
    await h.closed(h.raw, 1, lambda w: w.copy(big), big, copy(big), span)
    await h.closed(h.bare, 1, lambda w: w.copy(big), big, copy(big), span)


def _compare(h: Harness) -> list[Comparison]:
    pairs = [
        (ours, writers, peer, SINGLE)
        for writers in h.plan.concurrencies
        for ours in (SINGLE, GROUPED)
        for peer in (h.raw.name, h.bare.name, h.library.name)
    ]
    pairs += [
        (ours_batch(size), 1, peer, peer_workload)
        for size, peer_workload in ((BATCH, executemany(BATCH)), (COPY_BATCH, copy(COPY_BATCH)))
        for peer in (h.raw.name, h.bare.name)
    ]
    comparisons = []
    for workload, writers, peer, peer_workload in pairs:
        ours, theirs = h.find(h.ours.name, workload, writers), h.find(peer, peer_workload, writers)
        if ours and theirs:
            comparisons.append(Comparison(ours, theirs))
    return comparisons


def _targets(h: Harness) -> list[Target]:
    """Issue 2's acceptance targets, where the plan measured both sides."""
    targets = []
    # One event per call, durable when it returns, as the registry appends: concurrent
    # calls share transactions. One transaction per event is in the table of peers.
    ours, library = h.find(h.ours.name, GROUPED, 16), h.find(h.library.name, SINGLE, 16)
    if ours and library:
        claim = "single-event appends, 16 writers: ours (group commit) vs the eventsourcing library"
        targets.append(Target(claim, Comparison(ours, library), 3.0))
    ours = h.find(h.ours.name, ours_batch(COPY_BATCH), 1)
    raw_copy = h.find(h.raw.name, copy(COPY_BATCH), 1)
    if ours and raw_copy:
        claim = "batch appends (1,000 per append): ours vs raw COPY of 1,000 + outbox"
        targets.append(Target(claim, Comparison(ours, raw_copy), 0.5))
    return targets


async def run(url: str, plan: Plan) -> StoreReport:
    """Every measurement of the plan, in fresh schemas that are dropped afterwards."""
    began = time.perf_counter()
    admin = await TableAdmin.connect(url, plan.history)
    harness = Harness(plan, url, admin)
    try:
        report = StoreReport(
            mode=plan.name,
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            command=COMMAND + (" --quick" if plan is QUICK else ""),
            machine=describe_machine(),
            server=await admin.server_facts(),
            sizes=sizes(),
        )
        await harness.create()
        await _measure(harness)
    finally:
        for schema in harness.schemas:
            await admin.drop_schema(schema)
        await admin.close()
    report.results = harness.results
    report.comparisons, report.targets = _compare(harness), _targets(harness)
    report.wall_seconds = time.perf_counter() - began
    return report


METHOD = [
    "Each implementation writes to its own schema of the same database. Ours and raw asyncpg"
    " write to tables made by the same migration (`deploy/migrations/versions/"
    "0001_event_store.py`): identity position, unique event id, unique (stream, version),"
    " the (tx_id, position) index, JSONB data and metadata; and the outbox table.",
    "Before each measurement: warm-up appends (connections opened, statements prepared),"
    f" then the tables are emptied and the events table given {FULL.history:,} events of"
    f" history ({STREAM_LENGTH}-event streams of a typical payload) and analysed, as a store"
    " in service holds history. (From empty tables, the version and duplicate checks of"
    " ours ran as sequential scans, from plans cached while the table was empty, which grew"
    " slower with every event appended.) After it, the rows added to the events table (and"
    " the outbox) are counted and must equal the appends that were acknowledged.",
    f"Single-event appends: every writer appends to its own contributor streams"
    f" ({STREAM_LENGTH} events each), stating the expected version, so none conflicts."
    " Ours: `engine.begin()` + `PostgresEventStore.append`, a pool of as many connections as"
    " writers. Ours with group commit: each append still carries one event and returns once"
    " it is committed, but appends that arrive while a transaction is in flight share the"
    " next one (`shared.batching.GroupCommit` with its defaults, at most 2 transactions in"
    " flight and 256 appends each, + `PostgresEventStore.append_streams`), which is how the"
    " registry's REST and CloudEvents writes reach the store. Raw + outbox: one transaction"
    " with `INSERT … RETURNING position` and the outbox"
    " INSERT, a connection per writer. Raw bare: one INSERT statement, its own transaction."
    " eventsourcing: `PostgresApplicationRecorder.insert_events` with one stored event per"
    " call (it locks the table, NOTIFYs and inserts), from threads, `POSTGRES_POOL_SIZE` ="
    " writers.",
    "Batches: one writer, one new stream per append. Raw: `executemany` or"
    " `copy_records_to_table` in one transaction; the outbox variant then copies the"
    " transaction's own events into the outbox (`WHERE tx_id = pg_current_xact_id()`).",
    "Throughput: committed events / elapsed time. In the full run each figure adds up"
    f" {FULL.rounds} slices, one per round, of {FULL.single.seconds:g} s (single events),"
    f" {FULL.batch.seconds:g} s (batches) or {FULL.open_loop.seconds:g} s (open loop); within"
    " a round the implementations take turns. Closed-loop latency: one transaction, begin"
    " to commit. Open-loop latency: from each append's scheduled arrival to its commit, at the"
    " same offered rate for every implementation (half the slowest one's closed-loop"
    " throughput with 16 writers), 16 connections each.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness")
    parser.add_argument("--output", type=Path, help=f"markdown to update (default: {DOCS})")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WFE_TEST_DATABASE_URL") or os.environ.get("WFE_DATABASE_URL"),
        help="SQLAlchemy postgresql+asyncpg URL (default: $WFE_TEST_DATABASE_URL)",
    )
    args = parser.parse_args()
    if not args.database_url:
        parser.error('no database: run `eval "$(.venv/bin/wfe stack env)"` first')
    report = asyncio.run(run(args.database_url, QUICK if args.quick else FULL))
    print_report(report)
    output = args.output or (None if args.quick else DOCS)
    if output is not None:
        write_section(output, markdown_section(report, METHOD))
        print(f"wrote {output}")
    if not all(r.all_stored for r in report.results):
        sys.exit("some appended events are missing from their table")


if __name__ == "__main__":
    main()
