"""`Idempotency-Key` on POSTs: a retry gets the first answer, never a second effect.

The answer is stored in the same transaction as the effect, so either both exist or
neither does. A key is scoped to the caller (token subject); reusing it for a different
request is refused with 422. Two concurrent requests with one key: the second to commit
fails on the key's primary key, its transaction (effects included) rolls back, and it
answers with the stored response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
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


def scoped_key(key: str | None, subject: str) -> str | None:
    """The key as stored: one caller's key never meets another's."""
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters",
        )
    return hashlib.sha256(f"{subject}\0{key}".encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    """A stored answer and the fingerprint of the request it answered."""

    fingerprint: str
    response: StoredResponse

    def replay(self, fingerprint: str) -> StoredResponse:
        if fingerprint != self.fingerprint:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used for a different request",
            )
        return self.response


async def answers(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Answer]:
    """The answers stored under these (scoped) keys."""
    if not keys:
        return {}
    table = idempotency_keys.c
    rows = await conn.execute(
        sa.select(table.key, table.request_hash, table.status, table.body, table.headers).where(
            table.key.in_(keys)
        )
    )
    return {
        row.key: Answer(row.request_hash, StoredResponse(row.status, row.body, row.headers))
        for row in rows
    }


async def remember(conn: AsyncConnection, answered: Mapping[str, Answer]) -> None:
    """Stores answers in the caller's transaction; a key stored meanwhile by a concurrent
    request raises `IntegrityError`, and the caller replays that one's answer instead."""
    if not answered:
        return
    now = datetime.now(UTC)
    await conn.execute(
        idempotency_keys.insert(),
        [
            {
                "key": key,
                "request_hash": answer.fingerprint,
                "status": answer.response.status,
                "body": answer.response.body,
                "headers": dict(answer.response.headers),
                "created_at": now,
            }
            for key, answer in answered.items()
        ],
    )


async def run_once(
    engine: AsyncEngine,
    key: str | None,
    subject: str,
    fingerprint: str,
    effect: Effect,
) -> tuple[StoredResponse, bool]:
    """Runs `effect` in a transaction unless this key already has an answer.
    Returns the answer and whether it is a replay."""
    scoped = scoped_key(key, subject)
    try:
        async with engine.begin() as conn:
            if scoped is not None:
                stored = (await answers(conn, [scoped])).get(scoped)
                if stored is not None:
                    return stored.replay(fingerprint), True
            response = await effect(conn)
            if scoped is not None:
                await remember(conn, {scoped: Answer(fingerprint, response)})
            return response, False
    except IntegrityError:
        if scoped is None:
            raise
        async with engine.connect() as conn:
            stored = (await answers(conn, [scoped])).get(scoped)
        if stored is None:
            raise
        return stored.replay(fingerprint), True
