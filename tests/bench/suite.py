"""The whole benchmark suite, one harness after another (`wfe bench`, `make bench`).

`HARNESSES` is the one list of what runs, in order. Each is a module of this package with
`QUICK` and `FULL` plans and an async `run`; what the suite does with its report depends on
the report's kind: the store benchmark's `StoreReport`, or a service benchmark's `Report`
(a `Section` of docs/benchmarks.md). Each writes its own section, as its own command does,
and the targets of all of them make one plot next to the markdown.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.rule import Rule
from sqlalchemy.engine import make_url

from shared.transport.base import TransportError
from shared.transport.kafka import KafkaPublisher
from tests.bench import plot
from tests.bench.report import StoreReport, markdown_section, print_report
from tests.bench.report import write_section as write_store_section
from tests.bench.reporting import Outcome as ReportingOutcome
from tests.bench.sections import DOCS, print_section, write
from tests.bench.service_main import Report

HARNESSES = [
    "tests.bench.store_appends",
    "tests.bench.registry_http",
    "tests.bench.policy",
    "tests.bench.reporting",
]
"""Module names, in the order they run and their sections follow each other."""

console = Console()


class SuiteError(Exception):
    """Something to fix before the suite can run; the text says what."""


@dataclass(frozen=True)
class SuitePlan:
    quick: bool
    output: Path | None
    harnesses: list[str]
    database_url: str
    kafka: str
    profile: Path | None = None
    """Where the service harnesses leave py-spy samples of the servers (None: no profiles)."""

    @classmethod
    def from_environment(
        cls,
        quick: bool,
        output: Path | None,
        only: Sequence[str],
        database_url: str | None,
        kafka: str | None,
        profile: Path | None = None,
    ) -> SuitePlan:
        short = {name.rsplit(".", 1)[1]: name for name in HARNESSES}
        unknown = [o for o in only if o not in short]
        if unknown:
            raise SuiteError(f"no harness {', '.join(unknown)}; there are: {', '.join(short)}")
        url = database_url or _env("WFE_TEST_DATABASE_URL", "WFE_DATABASE_URL")
        brokers = kafka or _env("WFE_TEST_KAFKA_BOOTSTRAP_SERVERS", "WFE_KAFKA_BOOTSTRAP_SERVERS")
        if not url or not brokers:
            raise SuiteError('no stack: `wfe stack up` then `eval "$(wfe stack env)"`')
        if not url.startswith("postgresql"):
            raise SuiteError(f"the benchmarks need PostgreSQL, not {url.split(':', 1)[0]}")
        chosen = [short[o] for o in only] if only else list(HARNESSES)
        return cls(quick, output or (None if quick else DOCS), chosen, url, brokers, profile)


def _env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


async def check_stack(plan: SuitePlan) -> None:
    """Fails in a second, rather than half an hour into the run."""
    url = make_url(plan.database_url).set(drivername="postgresql")
    try:
        connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
        await connection.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        shown = url.render_as_string(hide_password=True)
        raise SuiteError(f"cannot reach PostgreSQL at {shown}: {exc}") from exc
    publisher = KafkaPublisher(plan.kafka, client_id="wfe-bench-check")
    try:
        await publisher.start()
    except TransportError as exc:
        raise SuiteError(f"cannot reach Kafka at {plan.kafka}: {exc}") from exc
    finally:
        await publisher.stop()


@dataclass
class SuiteOutcome:
    written: list[str] = field(default_factory=list)
    """Section keys written, in order."""
    missing: list[str] = field(default_factory=list)
    """Harnesses where some acknowledged write was not stored."""


def run_suite(plan: SuitePlan) -> SuiteOutcome:
    outcome = SuiteOutcome()
    for i, name in enumerate(plan.harnesses, start=1):
        console.print(Rule(f"[{i}/{len(plan.harnesses)}] {name}{' --quick' if plan.quick else ''}"))
        module = importlib.import_module(name)
        harness_plan = module.QUICK if plan.quick else module.FULL
        if name == "tests.bench.store_appends":
            report: Any = asyncio.run(module.run(plan.database_url, harness_plan))
        else:
            report = asyncio.run(
                module.run(plan.database_url, plan.kafka, harness_plan, plan.profile)
            )
        record(report, name, plan.output, outcome)
    if plan.output is not None and outcome.written:
        image = plot.path_for(plan.output)
        plot.draw(plot.points_from_markdown(plan.output.read_text()), image)
        console.print(f"wrote {plan.output} and {image}")
    return outcome


def record(
    report: StoreReport | Report | ReportingOutcome,
    name: str,
    output: Path | None,
    outcome: SuiteOutcome,
) -> None:
    """Prints a harness's report and writes its section after those already written."""
    if isinstance(report, StoreReport):
        print_report(report)
        key, stored = "store", all(r.all_stored for r in report.results)
        if output is not None:
            from tests.bench.store_appends import METHOD

            write_store_section(output, markdown_section(report, METHOD))
    else:
        print_section(report.section)
        key, stored = report.section.key, report.all_stored
        if output is not None:
            write(output, report.section, outcome.written)
    outcome.written.append(key)
    if not stored:
        outcome.missing.append(name)
