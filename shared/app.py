"""Builds the ASGI app for one service (stack mode) or all three (embedded mode).

A service contributes a router, its migration target and its background workers (relays,
consumers). The app owns the process-wide pieces: settings, the transport, the signing key,
error handlers, metrics and the health endpoints; each service gets its own database.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.http.auth import Authenticator, signing_key
from shared.http.limits import BodyLimit
from shared.http.problems import PROBLEM_JSON, install_problem_handlers
from shared.migrations import migrate
from shared.settings import ServiceSettings
from shared.telemetry import install_metrics
from shared.tracing import configure_tracing
from shared.transport.factory import InProcessTransport, KafkaTransport, Transport

log = logging.getLogger(__name__)


class Worker(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class ServiceContext:
    """What a service's routes and workers share; found at `app.state.services[name]`."""

    name: str
    settings: ServiceSettings
    engine: AsyncEngine
    transport: Transport
    extras: dict[str, Any] = field(default_factory=dict)


ReadinessCheck = Callable[[ServiceContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    router: APIRouter
    migration_target: str
    workers: Callable[[ServiceContext], Awaitable[list[Worker]]]
    readiness: ReadinessCheck | None = None
    openapi_tags: Sequence[dict[str, str]] = ()


def transport_for(settings: ServiceSettings) -> Transport:
    if settings.kafka_bootstrap_servers:
        return KafkaTransport(settings.kafka_bootstrap_servers)
    topics = [settings.topics.registry, settings.topics.policy, settings.topics.deadletter]
    return InProcessTransport(settings.data_dir / "transport.db", topics)


def create_app(
    services: Sequence[ServiceDefinition], settings: ServiceSettings, title: str
) -> FastAPI:
    key = signing_key(settings.signing_key, settings.data_dir, settings.environment)
    configure_tracing("wfe-" + "-".join(s.name for s in services))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        transport = transport_for(settings)
        await transport.open()
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        contexts: dict[str, ServiceContext] = {}
        try:
            for service in services:
                engine = create_engine(settings.database_url_for(service.name), schema=service.name)
                await migrate(engine, service.name, service.migration_target)
                context = ServiceContext(service.name, settings, engine, transport)
                contexts[service.name] = context
            app.state.services = contexts
            for service in services:
                for worker in await service.workers(contexts[service.name]):
                    tasks.append(asyncio.create_task(_supervised(worker, stop)))
            # What startup built (modules, schemas, routes, compiled policies) lives as long
            # as the process. Frozen, it is no longer walked by every full collection: those
            # walks were 80 ms pauses every few seconds, and set the access check's p99.
            gc.collect()
            gc.freeze()
            yield
        finally:
            # Collectable again: a process that starts apps one after another (the tests)
            # would otherwise keep every stopped app's reference cycles for good.
            gc.unfreeze()
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for context in contexts.values():
                await context.engine.dispose()
            await transport.close()

    # FastAPI's own telemetry is off: `RequestTelemetry` (shared/telemetry.py) already opens
    # each request's server span, counts it for Prometheus and logs it; FastAPI's would add a
    # second server span around ours and cost every request its provider checks.
    telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(title=title, lifespan=lifespan, version="1.0.0", telemetry=telemetry)
    app.state.authenticator = Authenticator(key)
    app.state.settings = settings
    install_problem_handlers(app)
    install_metrics(app, lambda request: _refresh_gauges(request, services))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    for service in services:
        app.include_router(service.router)
    _health_routes(app, services)
    return app


async def _supervised(worker: Worker, stop: asyncio.Event) -> None:
    """Restarts a worker that fails, so one bad moment (a broker away, a lost connection)
    never leaves a service without its relay or consumer."""
    while not stop.is_set():
        try:
            await worker.run(stop)
        except Exception:
            log.exception("worker %s failed; restarting", type(worker).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                continue


async def _refresh_gauges(request: Request, services: Sequence[ServiceDefinition]) -> None:
    """The readiness checks set the backlog and lag gauges as they measure them."""
    for service in services:
        if service.readiness is None:
            continue
        try:
            await service.readiness(request.app.state.services[service.name])
        except Exception as exc:  # a scrape shows the last figures rather than failing
            log.warning("metrics: cannot refresh %s's gauges: %s", service.name, exc)


def _health_routes(app: FastAPI, services: Sequence[ServiceDefinition]) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database, transport, backlog")
    async def readyz(request: Request) -> JSONResponse:
        report: dict[str, Any] = {}
        ready = True
        for service in services:
            context: ServiceContext = request.app.state.services[service.name]
            try:
                async with context.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
                details = await service.readiness(context) if service.readiness else {}
                report[service.name] = {"database": "ok", **details}
            except Exception as exc:  # readiness reports any failure; it never raises
                ready = False
                report[service.name] = {"database": f"unavailable: {type(exc).__name__}"}
        if ready:
            return JSONResponse({"status": "ready", "services": report})
        return JSONResponse(
            {
                "type": "/problems/not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": "a dependency is unavailable",
                "services": report,
            },
            status_code=503,
            headers={"Retry-After": "5"},
            media_type=PROBLEM_JSON,
        )
