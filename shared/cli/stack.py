"""`wfe stack up | down | status | env`: the local PostgreSQL + Kafka the tests and services use."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared import stack
from shared.stack import StackError, StackSettings
from shared.stack.process import Notify

T = TypeVar("T")

app = typer.Typer(help="The local PostgreSQL and Kafka stack.", no_args_is_help=True)
console = Console()
# Error text quotes server logs, whose "[...]" must not be read as markup.
errors = Console(stderr=True, style="bold red", markup=False, highlight=False, soft_wrap=True)


def _fail(message: str) -> NoReturn:
    errors.print(f"error: {message}")
    raise typer.Exit(1)


def _settings() -> StackSettings:
    try:
        return StackSettings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = "WFE_STACK_" + str(problem["loc"][0]).upper()
        _fail(f"{field}: {problem['msg']} (got {problem['input']!r})")


def _with_spinner(
    title: str,
    operation: Callable[[StackSettings, Notify], Coroutine[Any, Any, T]],
    settings: StackSettings,
) -> T:
    """Run one stack operation; a failure becomes one red line and exit status 1."""
    with console.status(title) as spinner:

        def notify(message: str) -> None:
            console.print(f"  {message}", style="dim", markup=False, highlight=False)
            spinner.update(message)

        try:
            return asyncio.run(operation(settings, notify))
        except (StackError, OSError) as exc:
            _fail(str(exc))


@app.command()
def up() -> None:
    """Start PostgreSQL and Kafka and create the topics (installs and downloads on first run)."""
    started = time.monotonic()
    settings = _settings()
    report = _with_spinner("starting the stack", stack.up, settings)
    done = "up" if report.postgres_started or report.kafka_started else "already running"
    console.print(
        f"[green]stack {done}[/] in {time.monotonic() - started:.1f} s: PostgreSQL "
        f"{settings.database_url}, Kafka {settings.kafka_bootstrap_servers}",
        highlight=False,
    )


@app.command()
def down() -> None:
    """Stop Kafka (SIGTERM, then SIGKILL after 20 s) and PostgreSQL; their data stays."""
    _with_spinner("stopping the stack", stack.down, _settings())
    console.print("[green]stack stopped[/]")


@app.command()
def status() -> None:
    """Show whether each component runs, and where."""
    _print_status(_settings())


@app.command()
def env() -> None:
    """Print `export` lines for the stack's addresses: eval "$(wfe stack env)"."""
    for name, value in stack.environment(_settings()).items():
        print(f"export {name}={shlex.quote(value)}")


def _print_status(settings: StackSettings) -> None:
    table = Table("component", "state", "pid", "address", "data")
    table.columns[4].overflow = "fold"
    for component in stack.status(settings):
        state = "[green]running[/]" if component.running else "[red]stopped[/]"
        pid = str(component.pid) if component.pid else "-"
        table.add_row(component.name, state, pid, component.address, component.detail)
    console.print(table)
