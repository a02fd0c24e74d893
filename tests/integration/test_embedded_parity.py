"""The embedded mode is the three services in one app, not a look-alike: every operation
the services publish, with the same parameters, bodies and answers, and the same schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.policy.app import app as policy_app
from services.registry.app import app as registry_app
from services.reporting.app import app as reporting_app
from shared.cli.dev import embedded_app
from shared.settings import ServiceSettings


def _operations(app: FastAPI) -> dict[tuple[str, str], Any]:
    return {
        (path, method): operation
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }


def test_the_embedded_app_publishes_exactly_the_services_operations(tmp_path: Path) -> None:
    # Only the OpenAPI documents are built: nothing connects to these.
    stack = ServiceSettings(
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://wfe:wfe@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        signing_key="k" * 32,
    )
    services = [registry_app(stack), policy_app(stack), reporting_app(stack)]
    embedded = embedded_app(stack)

    together: dict[tuple[str, str], Any] = {}
    schemas: dict[str, Any] = {}
    for service in services:
        together.update(_operations(service))
        schemas.update(service.openapi().get("components", {}).get("schemas", {}))

    assert _operations(embedded) == together
    assert embedded.openapi()["components"]["schemas"] == schemas
    assert len(together) > 60  # every service contributed its routes
