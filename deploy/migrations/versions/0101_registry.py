"""Registry: the contributor list read model, source references, the self-identification vault.

Revision ID: 0101_registry
Revises: 0002_idempotency_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101_registry"
down_revision: str | Sequence[str] | None = "0002_idempotency_keys"
branch_labels: str | Sequence[str] | None = ("registry",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Kept in the same transaction as each append: lists and filters read it, GET folds.
    op.create_table(
        "contributors",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("contributor_type", sa.Text(), nullable=False),
        sa.Column("lifecycle", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("owning_function", sa.Text(), nullable=True),
        sa.Column("sponsor", sa.Text(), nullable=True),
        sa.Column("business_unit", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("contributor_type", "lifecycle", "owning_function", "business_unit", "sponsor"):
        op.create_index(f"contributors_{column}", "contributors", [column, "id"])
    op.create_index("contributors_email", "contributors", ["email"])
    # One contributor per (system, external id): identity continuity across source systems.
    op.create_table(
        "source_references",
        sa.Column("system", sa.Text(), primary_key=True),
        sa.Column("external_id", sa.Text(), primary_key=True),
        sa.Column("contributor_id", sa.Text(), nullable=False, index=True),
    )
    # Crypto-shredding: destroying a contributor's key makes their ciphertext unreadable.
    op.create_table(
        "subject_keys",
        sa.Column("contributor_id", sa.Text(), primary_key=True),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "self_identifications",
        sa.Column("contributor_id", sa.Text(), primary_key=True),
        sa.Column("key_reference", sa.Text(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("self_identifications", "subject_keys", "source_references", "contributors"):
        op.drop_table(table)
