"""`wfe serve registry|policy|reporting|relay`: one service against the configured stack."""

from __future__ import annotations

import asyncio
from enum import StrEnum

import typer
import uvicorn
from pydantic import ValidationError

from shared.cli.output import fail, settings_error
from shared.http.auth import InsecureSigningKey
from shared.logs import LogFormat, LogSettings, configure_logging
from shared.settings import ServiceSettings

app = typer.Typer(help="Run one service (stack mode: PostgreSQL + Kafka).", no_args_is_help=True)

PORTS = {"registry": 8001, "policy": 8002, "reporting": 8003}


class RelayFor(StrEnum):
    registry = "registry"


def settings() -> ServiceSettings:
    try:
        return ServiceSettings()
    except ValidationError as exc:
        settings_error(exc, "WFE_")


def process_logging(service: str, log_format: LogFormat = "json", level: str = "INFO") -> None:
    """The process's logging; WFE_LOG_FORMAT / WFE_LOG_LEVEL override the command's defaults
    (for a service: JSON lines at INFO, what a log collector reads from a container)."""
    try:
        configured = LogSettings()
    except ValidationError as exc:
        settings_error(exc, "WFE_LOG_")
    configure_logging(service, configured.format or log_format, configured.level or level)


def _serve(service: str, host: str, port: int | None) -> None:
    from services.policy.app import app as policy_app
    from services.registry.app import app as registry_app
    from services.reporting.app import app as reporting_app

    factories = {"registry": registry_app, "policy": policy_app, "reporting": reporting_app}
    try:
        asgi = factories[service](settings())
    except InsecureSigningKey as exc:
        fail(str(exc))
    process_logging(service)
    # No log_config: uvicorn's loggers propagate to the one handler process_logging installed.
    # Its access log stays off; the telemetry middleware writes one with the correlation id.
    uvicorn.run(asgi, host=host, port=port or PORTS[service], log_config=None, access_log=False)


@app.command()
def registry(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(PORTS["registry"], help="Port to listen on."),
) -> None:
    """The registry: contributors over REST, CloudEvents and SCIM."""
    _serve("registry", host, port)


@app.command()
def policy(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(PORTS["policy"], help="Port to listen on."),
) -> None:
    """Policy: rules per contributor type, decisions, access checks, timers."""
    _serve("policy", host, port)


@app.command()
def reporting(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(PORTS["reporting"], help="Port to listen on."),
) -> None:
    """Reporting: projections of both topics, report APIs, the live dashboard."""
    _serve("reporting", host, port)


@app.command()
def relay(service: RelayFor = typer.Argument(RelayFor.registry, help="Whose outbox.")) -> None:
    """Only the outbox relay of a service (when its API runs with WFE_RUN_RELAYS=false)."""
    from services.registry.app import relay as registry_relay
    from shared.app import ServiceContext, transport_for
    from shared.db import create_engine

    configured = settings()
    if not configured.kafka_bootstrap_servers:
        fail("a relay needs Kafka: set WFE_KAFKA_BOOTSTRAP_SERVERS")
    process_logging(f"{service.value}-relay")

    async def run() -> None:
        engine = create_engine(configured.database_url_for(service.value), schema=service.value)
        context = ServiceContext(service.value, configured, engine, transport_for(configured))
        try:
            await registry_relay(context).run(asyncio.Event())
        finally:
            await engine.dispose()

    asyncio.run(run())
