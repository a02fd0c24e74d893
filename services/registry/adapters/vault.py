"""Voluntary self-identification, encrypted per contributor, kept apart from the events.

Each contributor has their own AES-256-GCM key. The events only say that something is on
file (a key reference and which dimensions), never the values. Erasure destroys the key:
the ciphertext, and any copy of it in a backup, can no longer be read (crypto-shredding).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters.tables import self_identifications, subject_keys
from shared.db import upsert


class KeyDestroyed(LookupError):
    """The contributor's key was destroyed by erasure (or never existed): nothing to read."""


async def store(conn: AsyncConnection, contributor_id: str, values: dict[str, str]) -> str:
    """Encrypts and stores the values; returns the key reference the event will carry."""
    key = await _key(conn, contributor_id, create=True)
    nonce = os.urandom(12)
    plaintext = json.dumps(dict(values), sort_keys=True).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, contributor_id.encode())
    reference = f"vault:{nonce.hex()}"
    await upsert(
        conn,
        self_identifications,
        [
            {
                "contributor_id": contributor_id,
                "key_reference": reference,
                "nonce": nonce,
                "ciphertext": ciphertext,
                "recorded_at": datetime.now(UTC),
            }
        ],
        ["contributor_id"],
    )
    return reference


async def read(conn: AsyncConnection, contributor_id: str) -> dict[str, str] | None:
    """The answers on file, or None when there are none (never given, or erased)."""
    try:
        return await read_or_raise(conn, contributor_id)
    except KeyDestroyed:
        return None


async def read_or_raise(conn: AsyncConnection, contributor_id: str) -> dict[str, str]:
    """The answers on file; `KeyDestroyed` when there is no readable answer."""
    row = (
        await conn.execute(
            sa.select(self_identifications.c.nonce, self_identifications.c.ciphertext).where(
                self_identifications.c.contributor_id == contributor_id
            )
        )
    ).first()
    key = await _key(conn, contributor_id, create=False)
    if row is None:
        raise KeyDestroyed(contributor_id)
    values: dict[str, str] = json.loads(
        AESGCM(key).decrypt(row.nonce, row.ciphertext, contributor_id.encode())
    )
    return values


async def shred(conn: AsyncConnection, contributor_id: str) -> None:
    """Destroys the key and the ciphertext; remembers that it did, so a later write is refused."""
    await upsert(
        conn,
        subject_keys,
        [{"contributor_id": contributor_id, "key": None, "destroyed_at": datetime.now(UTC)}],
        ["contributor_id"],
    )
    await conn.execute(
        self_identifications.delete().where(self_identifications.c.contributor_id == contributor_id)
    )


async def _key(conn: AsyncConnection, contributor_id: str, *, create: bool) -> bytes:
    row = (
        await conn.execute(
            sa.select(subject_keys.c.key, subject_keys.c.destroyed_at).where(
                subject_keys.c.contributor_id == contributor_id
            )
        )
    ).first()
    if row is not None and row.key is not None:
        return bytes(row.key)
    if not create:
        raise KeyDestroyed(contributor_id)
    # A new, voluntary submission after an erasure gets a new key; the old one stays gone.
    key = AESGCM.generate_key(bit_length=256)
    await upsert(
        conn,
        subject_keys,
        [{"contributor_id": contributor_id, "key": key, "destroyed_at": None}],
        ["contributor_id"],
    )
    return key
