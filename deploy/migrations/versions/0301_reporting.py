"""Reporting: the projected tables, consumer progress, frozen DEI releases, rebuilds.

Revision ID: 0301_reporting
Revises: 0002_idempotency_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.reporting.projections.tables import TABLES, ColumnType

revision: str = "0301_reporting"
down_revision: str | Sequence[str] | None = "0002_idempotency_keys"
branch_labels: str | Sequence[str] | None = ("reporting",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    types: dict[ColumnType, sa.types.TypeEngine] = {
        "text": sa.Text(),
        "integer": sa.Integer(),
        "boolean": sa.Boolean(),
        "date": sa.Date(),
        "timestamp": sa.DateTime(timezone=True),
        "json": JSONB() if postgres else sa.JSON(),
    }
    # The columns come from the projection's table definitions as they are when this runs.
    # That is sound for the first revision only: no database has these tables yet, so no
    # later revision depends on an older shape. Before the first change to
    # `projections/tables.py` after a release, inline the definitions here and put the
    # change into a revision of its own.
    for table in TABLES.values():
        op.create_table(
            table.name,
            *(sa.Column(c.name, types[c.type], nullable=False) for c in table.key),
            *(sa.Column(c.name, types[c.type], nullable=c.nullable) for c in table.values),
            sa.PrimaryKeyConstraint(*table.key_names, name=f"{table.name}_pkey"),
        )
    # What the reports filter and range on besides the contributor id.
    indexes = {
        "contributor_facts_type": ("contributor_facts", "contributor_type"),
        "contributor_facts_business_unit": ("contributor_facts", "business_unit"),
        "lifecycle_intervals_valid_from": ("lifecycle_intervals", "valid_from"),
        "lifecycle_events_effective_at": ("lifecycle_events", "effective_at"),
        "onboarding_spells_ended_at": ("onboarding_spells", "ended_at"),
        "contracts_end": ("contracts", "end"),
        "engagements_start": ("engagements", "start"),
        "engagements_end": ("engagements", "end"),
        "compliance_checks_valid_until": ("compliance_checks", "valid_until"),
        "access_grants_held_until": ("access_grants", "held_until"),
        "access_exposures_exposed_from": ("access_exposures", "exposed_from"),
    }
    for name, (table_name, column) in indexes.items():
        op.create_index(name, table_name, [column])
    # Per partition, the recorded time of the last event processed: lag in seconds.
    op.create_table(
        "consumer_progress",
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("topic", sa.Text(), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("last_event_time", sa.DateTime(timezone=True), nullable=False),
    )
    # A released demographic table is served again as it was, never recomputed.
    op.create_table(
        "demographic_releases",
        sa.Column("period", sa.Text(), primary_key=True),
        sa.Column("dimension", sa.Text(), primary_key=True),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("release", types["json"], nullable=False),
    )
    # One row per rebuild swapped in; live consumers re-read their offsets when it grows.
    op.create_table(
        "rebuilds",
        sa.Column("generation", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("swapped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for name in ("rebuilds", "demographic_releases", "consumer_progress", *reversed(TABLES)):
        op.drop_table(name)
