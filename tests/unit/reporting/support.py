"""The scripted ecosystem projected once, for the report tests."""

from __future__ import annotations

from typing import Any

from services.reporting.projections import MemoryTables, project_batch

from .ecosystem import scripted
from .naive import streams

ECO = scripted()
EVENTS = ECO.events
STREAMS = streams(EVENTS)
TABLES = MemoryTables()
TABLES.apply(project_batch({}, EVENTS)[1])


def rows(table: str) -> list[dict[str, Any]]:
    return TABLES.rows(table)
