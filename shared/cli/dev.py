"""`wfe dev`: every service in one process on one port, with SQLite files and the in-process
transport in a data folder — nothing to install but Python."""

from __future__ import annotations

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
    token = Authenticator(key).mint("admin", SCOPES, timedelta(hours=12))
    console.print(f"[bold]Workforce Ecosystem Orchestrator[/] (embedded mode, data in {data_dir})")
    console.print(f"  dashboard  {base}/dashboard?token={token}", soft_wrap=True)
    console.print(f"  API docs   {base}/docs")
    console.print(f"  admin token (12 h, every scope):\n{token}", soft_wrap=True)
    # A terminal: readable lines, warnings and up, unless WFE_LOG_FORMAT / WFE_LOG_LEVEL ask.
    process_logging("wfe", "text", "WARNING")
    uvicorn.run(app, host=host, port=port, log_config=None)
