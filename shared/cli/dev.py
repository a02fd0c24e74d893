"""`wfe dev`: every service in one process on one port, with SQLite files and the in-process
transport in a data folder — nothing to install but Python."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from shared.cli.output import fail
from shared.cli.serve import process_logging, settings
from shared.http.auth import SCOPES, Authenticator, InsecureSigningKey, signing_key
from shared.settings import ServiceSettings

console = Console()


def embedded_app(configured: ServiceSettings) -> FastAPI:
    """The one app `wfe dev` serves: every service, SQLite files under `data_dir`, the
    in-process transport. The e2e suites run against this very app too."""
    from services.policy.app import definition as policy
    from services.registry.app import definition as registry
    from services.reporting.app import definition as reporting
    from shared.app import create_app

    embedded = configured.model_copy(update={"database_url": None, "kafka_bootstrap_servers": None})
    return create_app(
        [registry(), policy(), reporting()], embedded, "Workforce Ecosystem Orchestrator"
    )


def dev(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path = typer.Option(Path(".wfe/data"), help="Where the SQLite files live."),
    demo: int = typer.Option(
        0,
        min=0,
        max=200_000,
        help="Also post a generated ecosystem of this many contributors (as `wfe demo` does,"
        " seed 7) once the server is up: watch the dashboard fill. Again later, nothing doubles.",
    ),
) -> None:
    """Run everything in one process (embedded mode) and print a token to try it with."""
    base = f"http://{host}:{port}"
    # One app serves every service: reporting's demographic feed asks this very port.
    configured = settings().model_copy(update={"data_dir": data_dir, "registry_url": base})
    try:
        key = signing_key(configured.signing_key, configured.data_dir, configured.environment)
        app = embedded_app(configured)
    except InsecureSigningKey as exc:
        fail(str(exc))
    authenticator = Authenticator(key)
    token = authenticator.mint("admin", SCOPES, timedelta(hours=12))
    console.print(f"[bold]Workforce Ecosystem Orchestrator[/] (embedded mode, data in {data_dir})")
    console.print(f"  dashboard  {base}/dashboard?token={token}", soft_wrap=True)
    console.print(f"  API docs   {base}/docs")
    console.print(f"  admin token (12 h, every scope):\n{token}", soft_wrap=True)
    # A terminal: readable lines, warnings and up, unless WFE_LOG_FORMAT / WFE_LOG_LEVEL ask.
    process_logging("wfe", "text", "WARNING")
    if demo:
        threading.Thread(
            target=_post_demo, args=(base, authenticator, demo), name="demo", daemon=True
        ).start()
    uvicorn.run(app, host=host, port=port, log_config=None)


def _post_demo(base: str, authenticator: Authenticator, contributors: int) -> None:
    """From a thread of the server's own process, once it answers: the same posting as
    `wfe demo`, through the public APIs."""
    from shared.cli.demo import demo_clients, fill
    from shared.demo.http import Api, Unreachable

    deadline = time.monotonic() + 60
    while True:
        try:
            Api(base, "").call("GET", "/healthz")
            break
        except Unreachable:
            if time.monotonic() > deadline:
                console.print("[red]the server did not come up; no demo data posted[/]")
                return
            time.sleep(0.2)
    try:
        fill(base, *demo_clients(base, authenticator), 7, contributors, 2, 2)
    except typer.Exit:
        return  # `fill` has said why in one line; the server keeps running
