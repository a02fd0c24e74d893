"""The policy service's composition root: routes, the registry consumer, the timer worker,
the relay of decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.policy.api import routes
from services.policy.api.context import SERVICE, PolicyContext
from services.policy.engine import PolicyEngine, RegistryFact, utc_today
from services.policy.shares import Sharing
from services.registry.domain.events import catalogue as registry_catalogue
from services.registry.domain.types import ContributorTypes
from shared.app import ServiceContext, ServiceDefinition, Worker, create_app
from shared.consumer import CheckpointedConsumer, Delivery
from shared.eventstore.store import event_store_for
from shared.outbox.relay import OutboxRelay, RelayConfig, outbox_backlog
from shared.processes import cpus
from shared.settings import ServiceSettings
from shared.telemetry import OUTBOX_BACKLOG
from shared.tracing import caused_by

SOURCE = "/policy"
log = logging.getLogger(__name__)


class TimerWorker:
    """Fires due timers every `interval` seconds; after downtime the overdue ones fire late,
    never not at all. On start, it first finishes any publication left half re-evaluated."""

    def __init__(self, engine: AsyncEngine, policy: PolicyEngine, interval: float) -> None:
        self._engine = engine
        self._policy = policy
        self._interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        # A publication whose re-evaluation a crash interrupted is finished first.
        caught_up = await self._policy.catch_up(self._engine)
        if caught_up:
            log.info("finished an interrupted publication: %d decisions", caught_up)
        while not stop.is_set():
            async with self._engine.begin() as conn:
                fired = await self._policy.fire_due_timers(conn)
            if fired:
                log.info("fired %d timers", fired)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)


def handler(policy: PolicyEngine) -> Callable[[AsyncConnection, Sequence[Delivery]], Any]:
    async def handle(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        # Decisions carry on the correlation id and trace of the registry event they follow;
        # the many events of one request (a CloudEvents batch) share one origin.
        origins: dict[tuple[str | None, bytes | None], dict[str, Any]] = {}
        facts = []
        for delivery in deliveries:
            origin = origins.get(delivery.origin)
            if origin is None:
                correlation_id, _ = delivery.origin
                trace = caused_by(delivery.message.headers, f"{SERVICE} decide")
                origin = origins[delivery.origin] = {"correlation_id": correlation_id, **trace}
            facts.append(_fact(delivery, origin))
        await policy.on_registry_events(conn, facts, {"actor": "policy", "channel": "consumer"})

    return handle


def _fact(delivery: Delivery, origin: dict[str, Any]) -> RegistryFact:
    event = delivery.event
    return RegistryFact(
        contributor_id=event.subject or "",
        type=event.type,
        data=event.data if isinstance(event.data, dict) else {},
        effective_time=event.effectivetime or event.time,  # type: ignore[arg-type]
        version=event.sequence or 0,
        origin=origin,
    )


def definition(
    clock: Callable[[], date] = utc_today, timer_interval: float = 30.0
) -> ServiceDefinition:
    async def start(context: ServiceContext) -> list[Worker]:
        settings = context.settings
        policy = PolicyEngine(
            event_store_for(context.engine.dialect.name),
            set(ContributorTypes.defaults().names),
            clock,
            sharing=Sharing(
                settings.database_url_for(SERVICE),
                SERVICE,
                settings.publication_processes or cpus(),
            ),
        )
        context.extras["policy"] = PolicyContext(context.engine, policy)
        consumer = CheckpointedConsumer(
            SERVICE,
            context.engine,
            context.transport.subscriber(SERVICE, [settings.topics.registry], client_id=SERVICE),
            handler(policy),
            registry_catalogue,
            context.transport.publisher(client_id=f"{SERVICE}-deadletters"),
            settings.topics.deadletter,
        )
        context.extras["consumer"] = consumer
        workers: list[Worker] = [consumer, TimerWorker(context.engine, policy, timer_interval)]
        if settings.run_relays:
            config = RelayConfig(service=SERVICE, topic=settings.topics.policy, source=SOURCE)
            publisher = context.transport.publisher(client_id=f"{SERVICE}-relay")
            workers.append(OutboxRelay(context.engine, publisher, config))
        return workers

    async def readiness(context: ServiceContext) -> dict[str, Any]:
        async with context.engine.connect() as conn:
            backlog = await outbox_backlog(conn)
        OUTBOX_BACKLOG.labels(SERVICE).set(backlog)
        consumer: CheckpointedConsumer = context.extras["consumer"]
        lag = await consumer.lag()
        return {"outbox_backlog": backlog, "consumer_lag": sum(lag.values())}

    router = APIRouter()
    router.include_router(routes.router)
    return ServiceDefinition(
        name=SERVICE,
        router=router,
        migration_target="policy@head",
        workers=start,
        readiness=readiness,
    )


def app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_app([definition()], settings or ServiceSettings(), "Workforce policy")
