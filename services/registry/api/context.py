"""How routes reach the registry's pieces: one `RegistryContext` per app, as a dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.handlers import Registry
from shared.app import ServiceContext
from shared.batching import GroupCommit
from shared.http.auth import Principal, requires

if TYPE_CHECKING:
    from services.registry.api.cloudevents import EventResult, Poster
    from services.registry.api.execution import Answered, Write

SERVICE = "registry"


@dataclass(frozen=True)
class RegistryContext:
    engine: AsyncEngine
    registry: Registry
    source: str
    writes: GroupCommit[Write, Answered]
    """REST commands, committed in groups."""
    events: GroupCommit[tuple[Any, Poster], EventResult]
    """Single CloudEvents (a posted event and who posted it), committed in groups."""


async def registry_context(request: Request) -> RegistryContext:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    context: ServiceContext = request.app.state.services[SERVICE]
    found: RegistryContext = context.extras["registry"]
    return found


Context = Annotated[RegistryContext, Depends(registry_context)]
Reader = Annotated[Principal, Depends(requires("contributors:read"))]
Writer = Annotated[Principal, Depends(requires("contributors:write"))]
Ingester = Annotated[Principal, Depends(requires("events:ingest"))]
ScimClient = Annotated[Principal, Depends(requires("scim"))]
