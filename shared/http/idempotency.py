"""`Idempotency-Key` on POSTs: a retry gets the first answer, never a second effect.

The answer is stored in the same transaction as the effect, so either both exist or
neither does. A key is scoped to the caller (token subject); reusing it for a different
request is refused with 422. Two concurrent requests with one key: the second to commit
fails on the key's primary key, its transaction (effects included) rolls back, and it
answers with the stored response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.eventstore.tables import idempotency_keys
from shared.http.problems import Problem

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


Effect = Callable[[AsyncConnection], Awaitable[StoredResponse]]


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


async def run_once(
    engine: AsyncEngine,
    key: str | None,
    subject: str,
    fingerprint: str,
    effect: Effect,
) -> tuple[StoredResponse, bool]:
    """Runs `effect` in a transaction unless this key already has an answer.
    Returns the answer and whether it is a replay."""
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters",
        )
    scoped = hashlib.sha256(f"{subject}\0{key}".encode()).hexdigest()
    try:
        async with engine.begin() as conn:
            if key is not None:
                stored = await _stored(conn, scoped, fingerprint)
                if stored is not None:
                    return stored, True
            response = await effect(conn)
            if key is not None:
                await conn.execute(
                    idempotency_keys.insert().values(
                        key=scoped,
                        request_hash=fingerprint,
                        status=response.status,
                        body=response.body,
                        headers=dict(response.headers),
                        created_at=datetime.now(UTC),
                    )
                )
            return response, False
    except IntegrityError:
        if key is None:
            raise
        async with engine.connect() as conn:
            stored = await _stored(conn, scoped, fingerprint)
        if stored is None:
            raise
        return stored, True


async def _stored(conn: AsyncConnection, key: str, fingerprint: str) -> StoredResponse | None:
    row = (
        await conn.execute(
            sa.select(
                idempotency_keys.c.request_hash,
                idempotency_keys.c.status,
                idempotency_keys.c.body,
                idempotency_keys.c.headers,
            ).where(idempotency_keys.c.key == key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was already used for a different request",
        )
    return StoredResponse(row.status, row.body, row.headers)
