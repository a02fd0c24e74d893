"""Every table the projections write, as plain data.

An adapter turns these into SQLAlchemy tables (PostgreSQL or SQLite) and applies the
`Upsert`/`Delete` operations the projection emits; nothing here knows about a database.
Each table's rows are owned by one contributor (the first key column), so a contributor's
rows can always be recomputed from that contributor's facts alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ColumnType = Literal["text", "integer", "boolean", "date", "timestamp", "json"]
"""`timestamp` values are timezone-aware UTC datetimes; `json` values are lists/dicts of
strings, numbers and booleans."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: tuple[Column, ...]
    values: tuple[Column, ...]
    description: str

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.key)

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.values)

    def as_row(self, key: tuple[Any, ...], values: Mapping[str, Any]) -> dict[str, Any]:
        """Key and value columns together: the shape reports take."""
        return {**dict(zip(self.key_names, key, strict=True)), **values}


def _text(name: str, nullable: bool = False) -> Column:
    return Column(name, "text", nullable)


def _at(name: str, nullable: bool = False) -> Column:
    return Column(name, "timestamp", nullable)


_CID = _text("contributor_id")
_TYPE = _text("contributor_type")

CONTRIBUTOR_FACTS = Table(
    "contributor_facts",
    (_CID,),
    (
        Column("registered", "boolean"),
        _text("contributor_type", True),
        _text("lifecycle_state", True),
        _text("display_name", True),
        _text("email", True),
        _text("email_key", True),
        _text("name_key", True),
        _text("owning_function", True),
        _text("sponsor", True),
        _text("business_unit", True),
        Column("source_systems", "json"),
        Column("owner_claims", "json"),
        _text("compliance_status", True),
        _at("compliance_since", True),
        Column("last_sequence", "integer"),
        Column("history", "json"),
    ),
    "Current state per contributor (as far as known now, on the effective axis) and the "
    "compact event history every other row of that contributor is derived from.",
)
LIFECYCLE_INTERVALS = Table(
    "lifecycle_intervals",
    (_CID, _at("valid_from")),
    (
        _at("valid_to", True),
        _text("lifecycle_state"),
        _TYPE,
        _text("business_unit"),
        _text("owning_function"),
    ),
    "Effective-dated [valid_from, valid_to) intervals of (state, type, business unit, owning "
    "function); valid_to null means still current.",
)
LIFECYCLE_EVENTS = Table(
    "lifecycle_events",
    (_CID, Column("sequence", "integer")),
    (
        _text("kind"),
        _at("effective_at"),
        _TYPE,
        _text("from_type", True),
        _text("to_type", True),
    ),
    "Lifecycle transitions and conversions; contributor_type is the type in effect right "
    "after the event.",
)
ONBOARDING_SPELLS = Table(
    "onboarding_spells",
    (_CID, Column("started_sequence", "integer")),
    (
        _text("started_by"),
        _at("started_at"),
        _at("ended_at", True),
        _text("ended_by", True),
        _TYPE,
    ),
    "Each stretch in state onboarding, from the event that started it (onboarding_started, "
    "reengaged) to the one that ended it (activated, offboarded...), null while open; "
    "contributor_type is the type when it ended (or now, if open).",
)
CONTRACTS = Table(
    "contracts",
    (_CID, _text("contract_id")),
    (
        _text("legal_entity"),
        Column("start", "date"),
        Column("end", "date", True),
        _text("status"),
        _TYPE,
    ),
    "Every contract as it stands; contributor_type is the current type.",
)
ENGAGEMENTS = Table(
    "engagements",
    (_CID, _text("engagement_id")),
    (
        _text("business_unit"),
        _text("project", True),
        _text("sponsor"),
        _text("contract_id", True),
        Column("start", "date"),
        Column("end", "date", True),
        _text("status"),
        _TYPE,
    ),
    "Every engagement as it stands; contributor_type is the type when it started.",
)
COMPLIANCE_CHECKS = Table(
    "compliance_checks",
    (_CID, _text("check")),
    (_text("outcome"), Column("valid_until", "date", True), _TYPE),
    "The latest result of each check; contributor_type is the current type.",
)
ACCESS_GRANTS = Table(
    "access_grants",
    (_CID, _text("grant_id"), Column("granted_sequence", "integer")),
    (
        _text("resource"),
        _text("classification"),
        _at("expires_at", True),
        _at("held_from"),
        _at("held_until", True),
        _text("revocation_reason", True),
        _TYPE,
    ),
    "Every grant with the window it was held in; held_until null means still held; "
    "contributor_type is the current type.",
)
ACCESS_EXPOSURES = Table(
    "access_exposures",
    (
        _CID,
        _text("grant_id"),
        Column("granted_sequence", "integer"),
        _text("kind"),
        _at("exposed_from"),
    ),
    (_at("exposed_until", True), _text("classification"), _TYPE),
    "Stretches of a grant's holding window after offboarding (kind after_offboarding) or "
    "outside every contract once the first one started (kind after_contract_end).",
)
DEI_PROGRAMS = Table(
    "dei_programs",
    (_CID, _text("program")),
    (Column("extended", "boolean"), Column("enrolled", "boolean"), _TYPE),
    "Per contributor and program: extended to them (policy) and/or enrolled (registry).",
)
DEMOGRAPHIC_COUNTS = Table(
    "demographic_counts",
    (_text("period"), _TYPE, _text("dimension"), _text("value")),
    (Column("count", "integer"),),
    "The aggregate-only self-identification feed, stored as received; never released "
    "without suppression. Written by the feed's adapter, not by `project`.",
)

TABLES: Mapping[str, Table] = {
    t.name: t
    for t in (
        CONTRIBUTOR_FACTS,
        LIFECYCLE_INTERVALS,
        LIFECYCLE_EVENTS,
        ONBOARDING_SPELLS,
        CONTRACTS,
        ENGAGEMENTS,
        COMPLIANCE_CHECKS,
        ACCESS_GRANTS,
        ACCESS_EXPOSURES,
        DEI_PROGRAMS,
        DEMOGRAPHIC_COUNTS,
    )
}
PROJECTED_TABLES: tuple[Table, ...] = tuple(
    t for t in TABLES.values() if t is not DEMOGRAPHIC_COUNTS
)
"""The tables `project` writes; their rows are a function of the event log alone."""
