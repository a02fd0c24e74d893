"""Event store: events, outbox, consumer checkpoints and applied stream versions.

Revision ID: 0001_event_store
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001_event_store"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("shared",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    json = JSONB() if postgres else sa.JSON()
    position = sa.BigInteger() if postgres else sa.Integer()
    tx_id = (
        # The writing transaction's id: the PostgreSQL store tails the log in this order.
        [
            sa.Column(
                "tx_id",
                sa.BigInteger(),
                nullable=False,
                server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            )
        ]
        if postgres
        else []
    )
    op.create_table(
        "events",
        # BY DEFAULT, so that a large batch can reserve positions and COPY them in.
        sa.Column("position", position, sa.Identity(always=False), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("stream_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("data", json, nullable=False),
        sa.Column("metadata", json, nullable=False),
        sa.Column("effective_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_time", sa.DateTime(timezone=True), nullable=False),
        *tx_id,
        sa.UniqueConstraint("event_id", name="events_event_id_key"),
        sa.UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
        sqlite_autoincrement=True,
    )
    if postgres:
        op.create_index("events_tx_order", "events", ["tx_id", "position"])
    op.create_table(
        "outbox",
        sa.Column("position", position, primary_key=True),
        sa.Column("stream_id", sa.Text(), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("topic", sa.Text(), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
    )
    # Last version applied per stream, so a re-published event is recognised and skipped.
    op.create_table(
        "consumed_streams",
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("stream_id", sa.Text(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consumed_streams")
    op.drop_table("checkpoints")
    op.drop_table("outbox")
    op.drop_table("events")
