"""Reporting's SQLAlchemy tables: every table of `projections.tables`, typed for both
backends, plus the few this adapter owns (consumer progress, frozen DEI releases, rebuilds).

Tables are unqualified, as everywhere: each service's connections put its schema first on
`search_path`, and a rebuild builds the same tables in a schema of its own.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.reporting.projections import tables as plain
from shared.eventstore.tables import Json, UtcDateTime

metadata = sa.MetaData()


def column_type(column: plain.Column) -> sa.types.TypeEngine[Any]:
    match column.type:
        case "text":
            return sa.Text()
        case "integer":
            return sa.Integer()
        case "boolean":
            return sa.Boolean()
        case "date":
            return sa.Date()
        case "timestamp":
            return UtcDateTime()
        case "json":
            return Json


def _table(definition: plain.Table) -> sa.Table:
    return sa.Table(
        definition.name,
        metadata,
        *(sa.Column(c.name, column_type(c), nullable=False) for c in definition.key),
        *(sa.Column(c.name, column_type(c), nullable=c.nullable) for c in definition.values),
        sa.PrimaryKeyConstraint(*definition.key_names, name=f"{definition.name}_pkey"),
    )


TABLES: dict[str, sa.Table] = {name: _table(t) for name, t in plain.TABLES.items()}
PROJECTED: tuple[sa.Table, ...] = tuple(TABLES[t.name] for t in plain.PROJECTED_TABLES)
"""The tables whose rows are a function of the log alone: what a rebuild recomputes."""

contributor_facts = TABLES[plain.CONTRIBUTOR_FACTS.name]
lifecycle_intervals = TABLES[plain.LIFECYCLE_INTERVALS.name]
lifecycle_events = TABLES[plain.LIFECYCLE_EVENTS.name]
onboarding_spells = TABLES[plain.ONBOARDING_SPELLS.name]
contracts = TABLES[plain.CONTRACTS.name]
engagements = TABLES[plain.ENGAGEMENTS.name]
compliance_checks = TABLES[plain.COMPLIANCE_CHECKS.name]
access_grants = TABLES[plain.ACCESS_GRANTS.name]
access_exposures = TABLES[plain.ACCESS_EXPOSURES.name]
dei_programs = TABLES[plain.DEI_PROGRAMS.name]
demographic_counts = TABLES[plain.DEMOGRAPHIC_COUNTS.name]

# What the reports filter and range on besides the contributor id (migration 0301 creates the
# same indexes; the rebuild test compares the two schemas).
INDEXES: tuple[sa.Index, ...] = (
    sa.Index("contributor_facts_type", contributor_facts.c.contributor_type),
    sa.Index("contributor_facts_business_unit", contributor_facts.c.business_unit),
    sa.Index("lifecycle_intervals_valid_from", lifecycle_intervals.c.valid_from),
    sa.Index("lifecycle_events_effective_at", lifecycle_events.c.effective_at),
    sa.Index("onboarding_spells_ended_at", onboarding_spells.c.ended_at),
    sa.Index("contracts_end", contracts.c.end),
    sa.Index("engagements_start", engagements.c.start),
    sa.Index("engagements_end", engagements.c.end),
    sa.Index("compliance_checks_valid_until", compliance_checks.c.valid_until),
    sa.Index("access_grants_held_until", access_grants.c.held_until),
    sa.Index("access_exposures_exposed_from", access_exposures.c.exposed_from),
)

consumer_progress = sa.Table(
    "consumer_progress",
    metadata,
    sa.Column("consumer", sa.Text(), primary_key=True),
    sa.Column("topic", sa.Text(), primary_key=True),
    sa.Column("partition", sa.Integer(), primary_key=True),
    sa.Column("last_event_time", UtcDateTime(), nullable=False),
)
"""Per partition, the recorded time of the last event processed: lag in seconds."""

demographic_releases = sa.Table(
    "demographic_releases",
    metadata,
    sa.Column("period", sa.Text(), primary_key=True),
    sa.Column("dimension", sa.Text(), primary_key=True),
    sa.Column("k", sa.Integer(), nullable=False),
    sa.Column("released_at", UtcDateTime(), nullable=False),
    sa.Column("release", Json, nullable=False),
)
"""A demographic table, once released, is served again as it was: a second version of one
table would reveal the correction that made them differ."""

rebuilds = sa.Table(
    "rebuilds",
    metadata,
    sa.Column("generation", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("swapped_at", UtcDateTime(), nullable=False),
    sa.Column("events", sa.BigInteger(), nullable=False),
)
"""One row per rebuild swapped in; the highest generation names the live tables."""
