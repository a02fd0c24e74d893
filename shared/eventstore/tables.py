"""Table definitions shared by both backends.

Tables are unqualified: on PostgreSQL each service's connections set `search_path` to the
service's schema, so the same definitions serve every service. The PostgreSQL-only `tx_id`
column (the writing transaction's id, used for gap-free tailing) is not declared here; the
PostgreSQL backend refers to it by name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, whatever the backend keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: say which time zone")
        value = value.astimezone(UTC)
        # SQLite keeps text: store naive UTC so lexical order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = sa.JSON().with_variant(JSONB(), "postgresql")
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
    sa.Column("stream_id", sa.Text(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("type", sa.Text(), nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("effective_time", UtcDateTime(), nullable=False),
    sa.Column("recorded_time", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
    sqlite_autoincrement=True,
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("position", Position, primary_key=True),
    sa.Column("stream_id", sa.Text(), nullable=False),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("consumer", sa.Text(), primary_key=True),
    sa.Column("topic", sa.Text(), primary_key=True),
    sa.Column("partition", sa.Integer(), primary_key=True),
    sa.Column("next_offset", sa.BigInteger(), nullable=False),
)

consumed_streams = sa.Table(
    "consumed_streams",
    metadata,
    sa.Column("consumer", sa.Text(), primary_key=True),
    sa.Column("stream_id", sa.Text(), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.Text(), primary_key=True),
    sa.Column("request_hash", sa.Text(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("body", Json, nullable=True),
    sa.Column("headers", Json, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)
