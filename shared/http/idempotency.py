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
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import json_text, text_array
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


_ANSWERS = sa.select(
    idempotency_keys.c.key,
    idempotency_keys.c.request_hash,
    idempotency_keys.c.status,
    idempotency_keys.c.body,
    idempotency_keys.c.headers,
)
_PG_ANSWERS = _ANSWERS.where(idempotency_keys.c.key == sa.any_(text_array("keys")))
"""Built once, the keys as one array: an `IN` list is rebuilt and rendered per call."""


async def answers(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Answer]:
    """The answers stored under these (scoped) keys."""
    if not keys:
        return {}
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(_PG_ANSWERS, {"keys": list(keys)})
    else:
        rows = await conn.execute(_ANSWERS.where(idempotency_keys.c.key.in_(keys)))
    return {
        row.key: Answer(row.request_hash, StoredResponse(row.status, row.body, row.headers))
        for row in rows
    }


_PG_REMEMBER = sa.text(
    """
    INSERT INTO idempotency_keys (key, request_hash, status, body, headers, created_at)
    SELECT k.key, k.request_hash, k.status, k.body::jsonb, k.headers::jsonb, :now
    FROM unnest(:keys, :hashes, :statuses, :bodies, :headers)
         AS k(key, request_hash, status, body, headers)
    """
).bindparams(
    text_array("keys"),
    text_array("hashes"),
    sa.bindparam("statuses", type_=ARRAY(sa.Integer())),
    text_array("bodies"),
    text_array("headers"),
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
)
"""A group's answers in one statement, each column an array, rather than a row each."""


async def remember(conn: AsyncConnection, answered: Mapping[str, Answer]) -> None:
    """Stores answers in the caller's transaction; a key stored meanwhile by a concurrent
    request raises `IntegrityError`, and the caller replays that one's answer instead."""
    if not answered:
        return
    now = datetime.now(UTC)
    if conn.dialect.name == "postgresql":
        await conn.execute(
            _PG_REMEMBER,
            {
                "keys": list(answered),
                "hashes": [a.fingerprint for a in answered.values()],
                "statuses": [a.response.status for a in answered.values()],
                "bodies": [json_text(a.response.body) for a in answered.values()],
                "headers": [json_text(dict(a.response.headers)) for a in answered.values()],
                "now": now,
            },
        )
        return
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
