"""The registry's own tables besides the event store's (see migration 0101_registry)."""

from __future__ import annotations

import sqlalchemy as sa

from shared.eventstore.tables import UtcDateTime, metadata

contributors = sa.Table(
    "contributors",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),
    sa.Column("contributor_type", sa.Text(), nullable=False),
    sa.Column("lifecycle", sa.Text(), nullable=False),
    sa.Column("display_name", sa.Text(), nullable=False),
    sa.Column("email", sa.Text()),
    sa.Column("owning_function", sa.Text()),
    sa.Column("sponsor", sa.Text()),
    sa.Column("business_unit", sa.Text()),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

source_references = sa.Table(
    "source_references",
    metadata,
    sa.Column("system", sa.Text(), primary_key=True),
    sa.Column("external_id", sa.Text(), primary_key=True),
    sa.Column("contributor_id", sa.Text(), nullable=False),
)

subject_keys = sa.Table(
    "subject_keys",
    metadata,
    sa.Column("contributor_id", sa.Text(), primary_key=True),
    sa.Column("key", sa.LargeBinary()),
    sa.Column("destroyed_at", UtcDateTime()),
)

self_identifications = sa.Table(
    "self_identifications",
    metadata,
    sa.Column("contributor_id", sa.Text(), primary_key=True),
    sa.Column("key_reference", sa.Text(), nullable=False),
    sa.Column("nonce", sa.LargeBinary(), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
)
