"""Stream tickets: how a browser's `EventSource`, which cannot send an `Authorization`
header, opens the dashboard's stream without putting a bearer token in a URL.

The page exchanges its bearer token for a ticket (`POST /dashboard/stream-tickets`, the
token in the header) and opens `/dashboard/stream?ticket=...`. A ticket:
- is an HS256 JWT signed with a key derived from the service's signing key (HMAC with a
  fixed label), so it can never pass as a bearer token anywhere, and every instance that
  shares the signing key accepts it (no server-side state);
- is good for opening a stream within `TICKET_SECONDS`; the stream it opens ends when the
  bearer token it was made from expires (`until`), so a ticket never outlives its token;
- carries only the dashboard's scopes the token holds: `reports:read` (required) and
  `dei:aggregate` (the demographic tables).
A ticket in an access log is worth little: it expires in seconds and opens one read-only
stream.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import Request

from shared.http.auth import ISSUER, Principal, signing_key
from shared.http.problems import Problem
from shared.settings import ServiceSettings

TICKET_SECONDS = 60
AUDIENCE = "wfe:dashboard-stream"
DASHBOARD_SCOPES = frozenset({"reports:read", "dei:aggregate"})
_ALGORITHM = "HS256"
_LABEL = b"wfe dashboard stream ticket v1"


@dataclass(frozen=True)
class Ticket:
    subject: str
    scopes: frozenset[str]
    until: datetime
    """When the bearer token the ticket was made from expires: the stream ends then."""


def _key(settings: ServiceSettings) -> bytes:
    base = signing_key(settings.signing_key, settings.data_dir, settings.environment)
    return hmac.new(base.encode(), _LABEL, hashlib.sha256).digest()


def bearer_expiry(request: Request) -> datetime:
    """The `exp` of the request's bearer token, which `requires()` has verified already."""
    token = request.headers["authorization"][7:].strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


def issue(settings: ServiceSettings, principal: Principal, until: datetime) -> tuple[str, int]:
    """A ticket for `principal`, and how many seconds it can be used to open a stream."""
    now = datetime.now(UTC)
    expires = min(now + timedelta(seconds=TICKET_SECONDS), until)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": principal.subject,
        "scope": " ".join(sorted(principal.scopes & DASHBOARD_SCOPES)),
        "iat": now,
        "exp": expires,
        "until": int(until.timestamp()),
    }
    return jwt.encode(claims, _key(settings), algorithm=_ALGORITHM), max(
        0, int((expires - now).total_seconds())
    )


def redeem(settings: ServiceSettings, ticket: str) -> Ticket:
    try:
        claims = jwt.decode(
            ticket,
            _key(settings),
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss", "aud", "until"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthenticated("the stream ticket has expired: ask for a new one") from None
    except jwt.InvalidTokenError as exc:
        raise _unauthenticated(f"the stream ticket is not valid: {exc}") from None
    scopes = frozenset(str(claims.get("scope", "")).split())
    if "reports:read" not in scopes:
        raise Problem(
            403,
            "insufficient-scope",
            "Insufficient scope",
            "the dashboard needs the scope reports:read",
            required_scope="reports:read",
        )
    return Ticket(str(claims["sub"]), scopes, datetime.fromtimestamp(int(claims["until"]), UTC))


def _unauthenticated(detail: str) -> Problem:
    challenge = f'Bearer realm="wfe", error="invalid_token", error_description="{detail}"'
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": challenge},
    )
