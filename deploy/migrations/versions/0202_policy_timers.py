"""Policy: a contributor's timers move out of the evaluation's JSON into a text column.

A publication reads and writes every contributor's evaluation, and the timers were 60% of
it: decoding and encoding them cost more than evaluating. The row now keeps them as plain
lines (`timer_keys`, see `services.policy.engine.scheduling`); the timers table holds them
all anyway. The copies in the evaluations are dropped and `timer_keys` is left NULL: the next
evaluation of each contributor inserts all of its timers again, a no-op for those there.

Revision ID: 0202_policy_timers
Revises: 0201_policy
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0202_policy_timers"
down_revision: str | Sequence[str] | None = "0201_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contributor_policy", sa.Column("timer_keys", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE contributor_policy SET evaluation = evaluation - 'timers'"
            " WHERE evaluation -> 'timers' IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE contributor_policy SET evaluation = json_remove(evaluation, '$.timers')"
            " WHERE json_type(evaluation, '$.timers') IS NOT NULL"
        )


def downgrade() -> None:
    # The evaluations get their timers back from the timers table: those still pending,
    # which include any that a later evaluation no longer needed (they fire harmlessly).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            UPDATE contributor_policy AS p SET evaluation = jsonb_set(p.evaluation, '{timers}',
                COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'due', t.due, 'kind', t.kind, 'subject_ref', t.subject_ref)
                    ORDER BY t.due, t.kind, t.subject_ref)
                    FROM timers t
                    WHERE t.contributor_id = p.contributor_id AND t.fired_at IS NULL), '[]'))
            """
        )
    else:
        op.execute(
            """
            UPDATE contributor_policy SET evaluation = json_set(evaluation, '$.timers',
                (SELECT json_group_array(json_object(
                    'due', due, 'kind', kind, 'subject_ref', subject_ref))
                 FROM (SELECT * FROM timers t
                       WHERE t.contributor_id = contributor_policy.contributor_id
                         AND t.fired_at IS NULL
                       ORDER BY due, kind, subject_ref)))
            """
        )
    with op.batch_alter_table("contributor_policy") as batch:
        batch.drop_column("timer_keys")
