"""How policy routes reach the engine, and the scopes they need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.policy.engine import PolicyEngine
from shared.app import ServiceContext
from shared.http.auth import Principal, requires

SERVICE = "policy"


@dataclass(frozen=True)
class PolicyContext:
    engine: AsyncEngine
    policy: PolicyEngine


async def policy_context(request: Request) -> PolicyContext:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    context: ServiceContext = request.app.state.services[SERVICE]
    found: PolicyContext = context.extras["policy"]
    return found


Context = Annotated[PolicyContext, Depends(policy_context)]
Reader = Annotated[Principal, Depends(requires("policy:read"))]
Admin = Annotated[Principal, Depends(requires("policy:admin"))]
Checker = Annotated[Principal, Depends(requires("access:check"))]
