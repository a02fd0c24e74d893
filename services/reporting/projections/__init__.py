"""Reporting's pure projection core: events in, row operations out, reports over rows.

No I/O here. An adapter stores the tables described in `tables`, applies the operations
`project`/`project_batch` return (with its consumer offsets, in one transaction), and hands
rows to the functions in `reports`.
"""

from services.reporting.projections.facts import ContributorFacts
from services.reporting.projections.memory import MemoryTables
from services.reporting.projections.model import (
    ComplianceStatusChanged,
    ConflictingEvent,
    DeiProgramsExtended,
    Delete,
    ProjectedEvent,
    RowOp,
    Upsert,
)
from services.reporting.projections.project import (
    Projection,
    facts_from_row,
    project,
    project_batch,
)
from services.reporting.projections.tables import PROJECTED_TABLES, TABLES, Column, Table

__all__ = [
    "PROJECTED_TABLES",
    "TABLES",
    "Column",
    "ComplianceStatusChanged",
    "ConflictingEvent",
    "ContributorFacts",
    "DeiProgramsExtended",
    "Delete",
    "MemoryTables",
    "ProjectedEvent",
    "Projection",
    "RowOp",
    "Table",
    "Upsert",
    "facts_from_row",
    "project",
    "project_batch",
]
