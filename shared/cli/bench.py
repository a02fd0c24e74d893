"""`wfe bench`: the whole benchmark suite against the real stack, then docs/benchmarks.md
and its plot. The harnesses live in the repository's `tests/bench/`, which is not installed:
this command runs from a checkout only."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from types import ModuleType

import typer

from shared.cli.output import fail, quiet_kafka_client

CHECKOUT = Path(__file__).resolve().parents[2]


def _suite() -> ModuleType:
    if not (CHECKOUT / "tests" / "bench" / "suite.py").is_file():
        fail(
            f"wfe bench runs the harnesses in a repository checkout's tests/bench/, and there is"
            f" none at {CHECKOUT}: run it from a clone (e.g. `make bench`)"
        )
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    return importlib.import_module("tests.bench.suite")


def bench(
    quick: bool = typer.Option(
        False, help="Tiny sizes: checks that every harness runs; the figures mean nothing."
    ),
    output: Path | None = typer.Option(
        None,
        help="Markdown to update, with the plot next to it (.png). Default: docs/benchmarks.md,"
        " or nothing written with --quick.",
    ),
    only: list[str] = typer.Option(
        [], "--only", help="Run this harness only (e.g. store_appends); repeat for several."
    ),
    database_url: str | None = typer.Option(
        None, help="PostgreSQL (default: $WFE_TEST_DATABASE_URL, else $WFE_DATABASE_URL)."
    ),
    kafka: str | None = typer.Option(
        None, help="Kafka (default: $WFE_TEST_KAFKA_BOOTSTRAP_SERVERS, else $WFE_KAFKA_…)."
    ),
    profile: Path | None = typer.Option(
        None,
        help="Also profile the services with py-spy, raw samples in this folder; the sections"
        " then show where the time goes.",
    ),
) -> None:
    """Run every benchmark harness in turn (tests/bench/suite.py lists them), write each one's
    section of docs/benchmarks.md and a plot of ours vs the targets and the peers.

    Needs the repository checkout (tests/ is not installed) and the stack:
    `wfe stack up && eval "$(wfe stack env)"`. The full plans take a long while (each
    section of docs/benchmarks.md states its wall time); --quick takes minutes."""
    quiet_kafka_client()
    suite = _suite()
    try:
        plan = suite.SuitePlan.from_environment(quick, output, only, database_url, kafka, profile)
        asyncio.run(suite.check_stack(plan))
    except suite.SuiteError as exc:
        fail(str(exc))
    outcome = suite.run_suite(plan)
    if outcome.missing:
        fail(f"acknowledged writes are missing in: {', '.join(outcome.missing)}")
