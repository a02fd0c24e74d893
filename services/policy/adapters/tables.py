"""The policy service's own tables (see migrations 0201_policy to 0203_policy_fillfactor)."""

from __future__ import annotations

import sqlalchemy as sa

from shared.eventstore.tables import Json, UtcDateTime, metadata

policy_versions = sa.Table(
    "policy_versions",
    metadata,
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("content_hash", sa.Text(), nullable=False),
    sa.Column("mode", sa.Text(), nullable=False),
    sa.Column("document", Json, nullable=False),
    sa.Column("author", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("published_at", UtcDateTime(), nullable=False),
)

contributor_policy = sa.Table(
    "contributor_policy",
    metadata,
    sa.Column("contributor_id", sa.Text(), primary_key=True),
    sa.Column("view", Json, nullable=False),
    sa.Column("evaluation", Json, nullable=False),
    sa.Column("timer_keys", sa.Text()),
    sa.Column("stream_version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("contributor_id", sa.Text(), primary_key=True),
    sa.Column("due", sa.Date(), primary_key=True),
    sa.Column("kind", sa.Text(), primary_key=True),
    sa.Column("subject_ref", sa.Text(), primary_key=True),
    sa.Column("fired_at", UtcDateTime()),
)
