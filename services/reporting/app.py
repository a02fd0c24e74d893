"""Reporting's composition root: its routes, its consumer, its readiness (the consumer's lag)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from services.reporting import dashboard
from services.reporting.adapters.demographic_feed import DemographicFeed
from services.reporting.api import (
    access,
    compliance,
    dei,
    freshness,
    integration,
    lifecycle,
    workforce,
)
from services.reporting.api.context import SERVICE, ReportingContext, ReportingOptions
from services.reporting.consumer import ConsumerWorker
from shared.app import ServiceContext, ServiceDefinition, Worker, create_app
from shared.settings import ServiceSettings


async def _start(service: ServiceContext) -> list[Worker]:
    feed = DemographicFeed(service)
    worker = ConsumerWorker(service, on_erasure=feed.wake)
    service.extras[SERVICE] = ReportingContext(service.engine, worker, ReportingOptions())
    return [worker, feed]


async def _readiness(service: ServiceContext) -> dict[str, Any]:
    reporting: ReportingContext = service.extras[SERVICE]
    consumer = reporting.worker.consumer
    lag = await consumer.lag() if consumer is not None else {}
    return {"consumer_lag": sum(lag.values()), "partitions": len(lag)}


def definition() -> ServiceDefinition:
    router = APIRouter()
    for module in (
        workforce,
        lifecycle,
        compliance,
        access,
        dei,
        integration,
        freshness,
        dashboard,
    ):
        router.include_router(module.router)
    return ServiceDefinition(
        name=SERVICE,
        router=router,
        migration_target="reporting@head",
        workers=_start,
        readiness=_readiness,
        openapi_tags=[{"name": "reports", "description": "Reports over the projections"}],
    )


def app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_app([definition()], settings or ServiceSettings(), "Workforce reporting")
