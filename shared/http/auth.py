"""Bearer JWTs with scopes, for every service.

Tokens are HS256-signed with the service's signing key. In development a random key is
made once and kept in the data folder, so `wfe token create` run in the same folder mints
tokens the running server accepts; outside development the key must be configured.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from fastapi import Request

from shared.http.problems import Problem

SCOPES = (
    "contributors:read",
    "contributors:write",
    "events:ingest",
    "scim",
    "policy:read",
    "policy:admin",
    "access:check",
    "reports:read",
    "dei:aggregate",
    "dei:feed",
)
ISSUER = "workforce-ecosystem-orchestrator"
_ALGORITHM = "HS256"
_MIN_KEY_BYTES = 32


class InsecureSigningKey(RuntimeError):
    pass


def signing_key(configured: str | None, data_dir: Path, environment: str) -> str:
    """The configured key; in development only, a random one kept in the data folder."""
    if configured:
        if len(configured.encode()) < _MIN_KEY_BYTES:
            raise InsecureSigningKey(f"the signing key must be at least {_MIN_KEY_BYTES} bytes")
        return configured
    if environment != "development":
        raise InsecureSigningKey(
            "no signing key configured (WFE_SIGNING_KEY): refusing to start outside development"
        )
    path = data_dir / "signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]


_VERIFIED_CACHE_SIZE = 1024


class Authenticator:
    def __init__(self, key: str) -> None:
        self._key = key
        # Clients send the same token with request after request, and checking its signature
        # costs more than many a route's work: a token verified once is known by its exact
        # text until it expires (checked on every use, so nothing outlives its `exp`).
        self._verified: dict[str, tuple[Principal, float]] = {}

    def mint(self, subject: str, scopes: Iterable[str], ttl: timedelta = timedelta(hours=1)) -> str:
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "scope": " ".join(sorted(set(scopes))),
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise _unauthenticated("a bearer token is required", "invalid_request")
        token = authorization[7:].strip()
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthenticated("the token has expired", "invalid_token") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthenticated(f"the token is not valid: {exc}", "invalid_token") from None
        principal = Principal(str(claims["sub"]), frozenset(str(claims.get("scope", "")).split()))
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (principal, float(claims["exp"]))
        return principal


def _unauthenticated(detail: str, error: str) -> Problem:
    challenge = f'Bearer realm="wfe", error="{error}", error_description="{detail}"'
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": challenge},
    )


def authorize(request: Request, scope: str) -> Principal:
    """The caller's principal, which must hold `scope`."""
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.verify(request.headers.get("authorization"))
    if scope not in principal.scopes:
        raise Problem(
            403,
            "insufficient-scope",
            "Insufficient scope",
            f"this operation needs the scope {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            required_scope=scope,
        )
    return principal


def requires(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: `authorize` for `scope`. Async, so FastAPI calls it on the
    event loop rather than handing it to a worker thread (which costs more than verifying
    a token)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    async def dependency(request: Request) -> Principal:
        return authorize(request, scope)

    dependency.required_scope = scope  # type: ignore[attr-defined]
    return dependency


def authorize_before_validation(request: Request) -> None:
    """FastAPI reads and validates a body before it runs dependencies, so a caller without
    a valid token would learn about the body's shape (400/422) before hearing 401. The
    validation error handler calls this first: the route's own scope check, if it has one,
    raises its 401/403 problem."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    pending = list(getattr(dependant, "dependencies", []))
    while pending:
        dependency = pending.pop()
        scope = getattr(getattr(dependency, "call", None), "required_scope", None)
        if scope is not None:
            authorize(request, scope)
            return
        pending.extend(getattr(dependency, "dependencies", []))
