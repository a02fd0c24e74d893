"""`wfe demo`: fill a running registry with a realistic, deterministic workforce ecosystem —
thousands of contributors of all eight types over two years — through its public APIs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from shared.cli.output import fail
from shared.cli.serve import settings
from shared.demo.http import Api, TokenRefused, Unreachable
from shared.demo.plan import DemoPlan, build_plan
from shared.demo.runner import Tally, check_access, run, units
from shared.http.auth import SCOPES, Authenticator, InsecureSigningKey, signing_key

console = Console()
TOKEN_LIFETIME = timedelta(hours=12)


def demo(
    url: str = typer.Option(
        "http://127.0.0.1:8000",
        help="The registry: `wfe dev` (default) or `wfe serve registry` (http://127.0.0.1:8001).",
    ),
    token: str | None = typer.Option(
        None,
        help="Bearer token with contributors:read/write, events:ingest and scim. Default: "
        "minted from this folder's configuration, like `wfe token create`.",
    ),
    seed: int = typer.Option(7, help="Same seed, same ecosystem: same events, same ids."),
    contributors: int = typer.Option(2000, min=10, max=200_000, help="How many, in all."),
    years: int = typer.Option(2, min=1, max=10, help="How many years of history, up to today."),
    # Two: SQLite (`wfe dev`) has one writer, and more lanes only queue on its lock.
    workers: int = typer.Option(
        2, min=1, max=32, help="Requests in flight; each contributor's events stay in order."
    ),
    data_dir: Path | None = typer.Option(
        None, help="Where `wfe dev` keeps its signing key (default: WFE_DATA_DIR or .wfe/data)."
    ),
) -> None:
    """Post a generated ecosystem (CloudEvents, REST and SCIM) and print what was recorded."""
    try:
        Api(url, "").call("GET", "/healthz")  # unreachable: say so before anything else
    except Unreachable as exc:
        fail(str(exc))
    try:
        fill(url, *_clients(url, token, data_dir), seed, contributors, years, workers)
    except KeyboardInterrupt:
        fail("interrupted: what was posted is kept; run again with the same seed to finish")


def fill(
    url: str, api: Api, scim: Api, seed: int, contributors: int, years: int, workers: int
) -> None:
    """Posts the ecosystem with a progress bar and prints what was recorded; one-line
    errors for what the caller can fix. Also `wfe dev --demo`'s, against itself."""
    plan = build_plan(seed, contributors, years, datetime.now(UTC).date())
    try:
        check_access(api, scim)
        console.print(
            f"Posting [bold]{contributors}[/] contributors, seed {seed}, effective "
            f"{plan.window.start} to {plan.window.end - timedelta(days=1)}, to {url}"
        )
        started = time.monotonic()
        tally = _post(plan, api, scim, workers)
        elapsed = time.monotonic() - started
    except (Unreachable, TokenRefused, ValueError, RuntimeError) as exc:
        fail(str(exc))
    console.print(_summary(plan, tally, elapsed))
    if tally.rejected:
        for problem in tally.problems:
            console.print(f"  [yellow]{problem}[/]", soft_wrap=True)
        fail(f"{tally.rejected} rejected: the generator broke a registry rule (a bug)")


def _clients(url: str, token: str | None, data_dir: Path | None) -> tuple[Api, Api]:
    """The API client and the SCIM client (whose token subject names the identity
    provider: a minted one is Okta's)."""
    if token:
        return Api(url, token), Api(url, token)
    configured = settings()
    if data_dir is not None:
        configured = configured.model_copy(update={"data_dir": data_dir})
    if not configured.signing_key and not (configured.data_dir / "signing.key").exists():
        fail(
            f"no --token and no signing key in {configured.data_dir}: pass the token "
            "`wfe dev` printed, or run where `wfe dev` runs (or give its --data-dir)"
        )
    try:
        key = signing_key(configured.signing_key, configured.data_dir, configured.environment)
    except InsecureSigningKey as exc:
        fail(str(exc))
    return demo_clients(url, Authenticator(key))


def demo_clients(url: str, authenticator: Authenticator) -> tuple[Api, Api]:
    minted = authenticator.mint("demo", SCOPES, TOKEN_LIFETIME)
    return Api(url, minted), Api(url, authenticator.mint("okta", ["scim"], TOKEN_LIFETIME))


def _post(plan: DemoPlan, api: Api, scim: Api, workers: int) -> Tally:
    columns = (
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("starting", total=units(plan))

        def advance(phase: str, done: int) -> None:
            progress.update(task, description=phase, advance=done)

        try:
            return run(plan, api, scim, advance, workers)
        finally:
            api.close()
            scim.close()


def _summary(plan: DemoPlan, tally: Tally, elapsed: float) -> Table:
    table = Table(title="wfe demo", show_header=True, title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    for name, count in sorted(plan.contributors_by_type().items(), key=lambda kv: -kv[1]):
        table.add_row(f"contributors: {name}", f"{count:,}")
    table.add_row(
        "contributors", f"{sum(plan.contributors_by_type().values()):,}", end_section=True
    )
    table.add_row("events accepted", f"{tally.accepted:,}")
    table.add_row("events duplicate", f"{tally.duplicate:,}")
    table.add_row("events rejected", f"{tally.rejected:,}")
    table.add_row("duplicates detected", f"{tally.duplicates_detected:,}", end_section=True)
    for channel, count in sorted(tally.requests.items()):
        table.add_row(f"requests: {channel}", f"{count:,}")
    posted = tally.accepted + tally.duplicate + tally.rejected
    table.add_row("elapsed", f"{elapsed:.1f} s")
    table.add_row("events/s", f"{posted / max(elapsed, 1e-9):,.0f}")
    return table
