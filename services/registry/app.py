"""The registry's composition root: its routes, its relay, its readiness."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, FastAPI

from services.registry.api import (
    cloudevents,
    dei_aggregates,
    execution,
    rest,
    scim,
    self_identification,
)
from services.registry.api.context import SERVICE, RegistryContext
from services.registry.domain.types import ContributorTypes
from services.registry.handlers import Registry
from shared.app import ServiceContext, ServiceDefinition, Worker, create_app
from shared.batching import GroupCommit
from shared.eventstore.store import event_store_for
from shared.outbox.relay import OutboxRelay, RelayConfig, outbox_backlog
from shared.settings import ServiceSettings
from shared.telemetry import OUTBOX_BACKLOG

SOURCE = "/registry"


async def _start(context: ServiceContext) -> list[Worker]:
    engine = context.engine
    registry = Registry(event_store_for(engine.dialect.name), ContributorTypes.defaults())
    context.extras["registry"] = RegistryContext(
        engine,
        registry,
        SOURCE,
        writes=GroupCommit("rest", functools.partial(execution.record_writes, engine, registry)),
        events=GroupCommit("cloudevents", functools.partial(cloudevents.ingest, engine, registry)),
    )
    if not context.settings.run_relays:
        return []
    return [relay(context)]


def relay(context: ServiceContext) -> OutboxRelay:
    config = RelayConfig(service=SERVICE, topic=context.settings.topics.registry, source=SOURCE)
    publisher = context.transport.publisher(client_id=f"{SERVICE}-relay")
    return OutboxRelay(context.engine, publisher, config)


async def _readiness(context: ServiceContext) -> dict[str, Any]:
    async with context.engine.connect() as conn:
        backlog = await outbox_backlog(conn)
    OUTBOX_BACKLOG.labels(SERVICE).set(backlog)
    return {"outbox_backlog": backlog}


def definition() -> ServiceDefinition:
    router = APIRouter()
    router.include_router(rest.router)
    router.include_router(scim.router)
    router.include_router(cloudevents.router)
    router.include_router(self_identification.router)
    router.include_router(dei_aggregates.router)
    return ServiceDefinition(
        name=SERVICE,
        router=router,
        migration_target="registry@head",
        workers=_start,
        readiness=_readiness,
    )


def app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_app([definition()], settings or ServiceSettings(), "Workforce registry")
