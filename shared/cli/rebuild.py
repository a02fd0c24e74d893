"""`wfe rebuild`: rebuild every reporting projection from offset 0 and swap it in."""

from __future__ import annotations

import asyncio

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.cli.output import fail
from shared.cli.serve import settings


def rebuild(
    processes: int | None = typer.Option(
        None,
        min=1,
        help="Processes reading shares of the partitions side by side [default: one per CPU].",
    ),
) -> None:
    """Re-read both topics from the start into fresh tables, then swap them in atomically
    while the reporting service keeps running (PostgreSQL + Kafka)."""
    from services.reporting.rebuild import RebuildError, RebuildProgress
    from services.reporting.rebuild import rebuild as run

    configured = settings()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("rebuilding", total=None)

        def report(step: RebuildProgress) -> None:
            total = None if step.remaining is None else step.processed + step.remaining
            progress.update(task, description=step.phase, completed=step.processed, total=total)

        try:
            result = asyncio.run(run(configured, report, processes=processes))
        except RebuildError as exc:
            fail(str(exc))
    rows = sum(result.rows.values())
    print(
        f"generation {result.generation}: {result.events:,} events, {rows:,} rows, "
        f"{result.seconds:.1f} s ({result.events / max(result.seconds, 1e-9):,.0f} events/s, "
        f"{result.processes} {'process' if result.processes == 1 else 'processes'})"
    )
