"""Tables held in memory, changed only by row operations: what an adapter does to real
tables, without the database. Tests compare these, and they define the operations'
meaning in a few lines."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from services.reporting.projections.facts import ContributorFacts
from services.reporting.projections.model import Delete, Key, RowOp, Upsert
from services.reporting.projections.project import facts_from_row
from services.reporting.projections.tables import CONTRIBUTOR_FACTS, TABLES


class MemoryTables:
    def __init__(self) -> None:
        self._tables: dict[str, dict[Key, dict[str, Any]]] = {name: {} for name in TABLES}

    def apply(self, ops: Iterable[RowOp]) -> None:
        for op in ops:
            table = self._tables[op.table]
            if len(op.key) != len(TABLES[op.table].key):
                raise ValueError(f"{op.table}: key {op.key!r} has the wrong arity")
            match op:
                case Upsert():
                    table[op.key] = dict(op.values)
                case Delete():
                    table.pop(op.key, None)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Key and value columns of every row, in key order."""
        definition = TABLES[table]
        return [
            definition.as_row(key, values) for key, values in sorted(self._tables[table].items())
        ]

    def facts(self, contributor_id: str) -> ContributorFacts | None:
        values = self._tables[CONTRIBUTOR_FACTS.name].get((contributor_id,))
        return None if values is None else facts_from_row(contributor_id, values)

    def snapshot(self) -> dict[str, dict[Key, dict[str, Any]]]:
        return copy.deepcopy(self._tables)
