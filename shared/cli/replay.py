"""`wfe replay registry|policy`: publish a range of a service's stored events to its topic
again, through its outbox, for a downstream that lost them.

Why the outbox and not a consumer's offsets: the events are put back in the outbox, and the
service's one active relay publishes them as it publishes everything, in position order
with the idempotent producer. Every consumer of ours skips what it has already applied,
because it keeps the last version it applied of each stream (`consumed_streams`) with its
effects; whoever lost the events gets them. Moving a consumer's stored offsets back would
do nothing for the same reason, and deleting what it applied too would fold old events
into newer state (policy's per-contributor view) — so that is not offered; reporting has
`wfe rebuild` for starting over. See docs/operations.md.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.cli.output import fail
from shared.cli.serve import settings
from shared.db import create_engine
from shared.eventstore.tables import events, outbox
from shared.settings import ServiceSettings

CHUNK = 10_000
"""Positions queued per transaction: short transactions beside the live writers."""

console = Console(stderr=True, soft_wrap=True, highlight=False)


class Producer(StrEnum):
    registry = "registry"
    policy = "policy"


@dataclass(frozen=True)
class Selection:
    from_position: int | None
    to_position: int | None
    since: datetime | None
    until: datetime | None
    contributors: tuple[str, ...]
    types: tuple[str, ...]

    def where(self) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        if self.from_position is not None:
            found.append(events.c.position >= self.from_position)
        if self.to_position is not None:
            found.append(events.c.position <= self.to_position)
        if self.since is not None:
            found.append(events.c.recorded_time >= self.since)
        if self.until is not None:
            found.append(events.c.recorded_time < self.until)
        if self.contributors:
            found.append(events.c.stream_id.in_(self.contributors))
        if self.types:
            found.append(events.c.type.in_(self.types))
        return found


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO 8601 date or time (e.g. 2025-03-01T12:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def replay(
    service: Producer = typer.Argument(..., help="Whose event store: registry or policy."),
    from_position: int | None = typer.Option(
        None, "--from-position", min=1, help="First global position (inclusive)."
    ),
    to_position: int | None = typer.Option(
        None, "--to-position", min=1, help="Last global position (inclusive)."
    ),
    since: str | None = typer.Option(
        None, help="Recorded at or after this ISO 8601 time (no zone: UTC)."
    ),
    until: str | None = typer.Option(None, help="Recorded before this ISO 8601 time."),
    contributor: list[str] = typer.Option(
        [], "--contributor", "-c", help="Only this contributor's stream; repeat for several."
    ),
    event_type: list[str] = typer.Option(
        [], "--type", "-t", help="Only this event type (full name); repeat for several."
    ),
    everything: bool = typer.Option(False, "--all", help="The whole store, from position 1."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what would be queued; queue none."
    ),
    wait: bool = typer.Option(
        True, help="Follow the relay until it has published them (--no-wait: just queue)."
    ),
    timeout: float = typer.Option(
        30.0, min=1, help="Seconds --wait allows the relay to make no progress before failing."
    ),
) -> None:
    """Publish stored events to the service's topic again, through its outbox, for a consumer
    that lost them; consumers that already applied them skip them (stream, version).

    Works against the real stack (WFE_DATABASE_URL) and the embedded mode (WFE_DATA_DIR);
    the running service's relay does the publishing."""
    selection = Selection(
        from_position,
        to_position,
        _moment(since, "--since"),
        _moment(until, "--until"),
        tuple(contributor),
        tuple(event_type),
    )
    unbounded = all(v is None for v in (from_position, to_position, since, until))
    if unbounded and not contributor and not everything:
        fail("say what to replay: --from-position, --since, --contributor … or --all")
    if from_position and to_position and from_position > to_position:
        fail(f"--from-position {from_position} is after --to-position {to_position}")
    if selection.since and selection.until and selection.since >= selection.until:
        fail(f"--since {since} is not before --until {until}")
    configured = settings()
    url = configured.database_url_for(service.value)
    if url.startswith("sqlite"):
        path = configured.data_dir / f"{service.value}.db"
        if not path.exists():
            fail(f"no {service.value} database at {path}: start `wfe dev` or set WFE_DATA_DIR")
    try:
        asyncio.run(_replay(configured, service.value, url, selection, dry_run, wait, timeout))
    except (OSError, sa.exc.DBAPIError) as exc:
        fail(f"the {service.value} database at {_where(url, configured)}: {_reason(exc)}")


async def _replay(
    configured: ServiceSettings,
    service: str,
    url: str,
    selection: Selection,
    dry_run: bool,
    wait: bool,
    patience: float,
) -> None:
    topic = configured.topics.registry if service == "registry" else configured.topics.policy
    engine = create_engine(url, schema=service, pool_size=1)
    try:
        async with engine.connect() as conn:
            count, low, high = (
                await conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.min(events.c.position),
                        sa.func.max(events.c.position),
                    ).where(*selection.where())
                )
            ).one()
        if not count:
            console.print(f"no {service} event matches: nothing to replay")
            return
        span = f"{count:,} {service} events (positions {low:,} to {high:,})"
        if dry_run:
            console.print(f"would publish {span} to {topic} again")
            return
        await _queue(engine, selection, low, high)
        console.print(f"queued {span} in the outbox, for {topic}")
        if wait:
            await _follow(engine, service, count, low, high, patience)
            console.print(f"published {count:,} events to {topic} again")
    finally:
        await engine.dispose()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _queue(engine: AsyncEngine, selection: Selection, low: int, high: int) -> None:
    """Outbox rows for the selected positions, a window of positions per transaction; a
    position still in the outbox stays there once."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with _progress() as progress:
        task = progress.add_task("queueing", total=high - low + 1)
        start = low
        while start <= high:
            end = min(start + CHUNK - 1, high)
            chosen = sa.select(events.c.position, events.c.stream_id).where(
                *selection.where(), events.c.position.between(start, end)
            )
            statement = (
                insert(outbox)
                .from_select(["position", "stream_id"], chosen)
                .on_conflict_do_nothing(index_elements=["position"])
            )
            async with engine.begin() as conn:
                await conn.execute(statement)
            progress.update(task, completed=end - low + 1)
            start = end + 1


async def _follow(
    engine: AsyncEngine, service: str, count: int, low: int, high: int, patience: float
) -> None:
    """Until the relay has taken every queued position out of the outbox. New events have
    higher positions, so the window counts only these (or the odd live event inside it)."""
    with _progress() as progress:
        task = progress.add_task("publishing", total=count)
        remaining, moved = count, time.monotonic()
        while remaining:
            async with engine.connect() as conn:
                now = await _waiting(conn, low, high)
            if now < remaining:
                remaining, moved = now, time.monotonic()
            elif time.monotonic() - moved > patience:
                progress.stop()
                fail(
                    f"{remaining:,} of {count:,} events still wait in the {service} outbox after"
                    f" {patience:g} s without progress: is its relay running (`wfe dev`,"
                    f" `wfe serve {service}`)? They are published when it runs."
                )
            progress.update(task, completed=count - remaining)
            if remaining:
                await asyncio.sleep(0.2)


async def _waiting(conn: AsyncConnection, low: int, high: int) -> int:
    query = sa.select(sa.func.count()).where(outbox.c.position.between(low, high))
    return int(await conn.scalar(query) or 0)


def _where(url: str, configured: ServiceSettings) -> str:
    if url.startswith("sqlite"):
        return str(Path(configured.data_dir))
    return sa.make_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if "no such table" in text or "does not exist" in text:
        return f"{text} (has the service run once, to create its tables?)"
    return text
