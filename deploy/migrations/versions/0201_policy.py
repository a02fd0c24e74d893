"""Policy: published versions, each contributor's view and last evaluation, durable timers.

Revision ID: 0201_policy
Revises: 0002_idempotency_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0201_policy"
down_revision: str | Sequence[str] | None = "0002_idempotency_keys"
branch_labels: str | Sequence[str] | None = ("policy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = JSONB() if op.get_bind().dialect.name == "postgresql" else sa.JSON()
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("document", json, nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    # What policy knows of each contributor and what it last concluded, so the next
    # evaluation emits only what changed.
    op.create_table(
        "contributor_policy",
        sa.Column("contributor_id", sa.Text(), primary_key=True),
        sa.Column("view", json, nullable=False),
        sa.Column("evaluation", json, nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # A timer only wakes a contributor up for re-evaluation on its day; firing one twice
    # would emit nothing new, but each is still fired exactly once (fired_at, same tx).
    op.create_table(
        "timers",
        sa.Column("contributor_id", sa.Text(), primary_key=True),
        sa.Column("due", sa.Date(), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("subject_ref", sa.Text(), primary_key=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("timers_pending", "timers", ["due"], postgresql_where=sa.text("fired_at IS NULL"))


def downgrade() -> None:
    for table in ("timers", "contributor_policy", "policy_versions"):
        op.drop_table(table)
