"""A rebuild's held facts (`adapters/held.py`) change nothing: folding batches into them,
writing the least recently touched contributors whenever more than the limit are held
(loading those met again back from the tables) and everyone left at the end gives the
tables that projecting the events one batch at a time gives."""

from __future__ import annotations

import pytest

from services.reporting.adapters.held import HeldFacts
from services.reporting.projections import (
    ContributorFacts,
    Delete,
    MemoryTables,
    ProjectedEvent,
    Upsert,
    project_batch,
)
from services.reporting.projections.derive import RowSet
from services.reporting.projections.project import fold
from services.reporting.projections.tables import TABLES
from tests.unit.reporting.ecosystem import scripted


def _write(tables: MemoryTables, rows: RowSet, replacing: list[str]) -> None:
    """What `store.write_contributors` does: every row of `replacing` goes, then `rows` are
    inserted, and (as COPY) an insert of a key the tables hold fails."""
    tables.apply(
        Delete(name, tuple(row[k] for k in TABLES[name].key_names))
        for name in TABLES
        for row in tables.rows(name)
        if row.get("contributor_id") in replacing
    )
    present = tables.snapshot()
    duplicates = [(name, key) for name, key in rows if key in present[name]]
    assert not duplicates, f"COPY would fail: {duplicates[:3]}"
    tables.apply(Upsert(name, key, values) for (name, key), values in rows.items())


def _flush(tables: MemoryTables, held: HeldFacts, contributor_ids: list[str]) -> None:
    write = held.write(contributor_ids)
    _write(tables, write.rows, write.replacing)
    held.written(write)


def _rebuild(events: list[ProjectedEvent], batch: int, limit: int) -> MemoryTables:
    """The rebuild consumer's handler and writes, on tables in memory."""
    tables, held = MemoryTables(), HeldFacts(limit)
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        subjects = {e.subject for e in chunk}
        known = held.facts(subjects)
        stored: dict[str, ContributorFacts] = {
            cid: facts
            for cid in subjects - known.keys()
            if (facts := tables.facts(cid)) is not None
        }
        held.hold(fold({**known, **stored}, chunk), stored.keys())
        _flush(tables, held, held.overflow())
        assert len(held) <= limit
    _flush(tables, held, held.everyone())
    assert len(held) == 0
    return tables


@pytest.mark.parametrize(("batch", "limit"), [(7, 0), (7, 2), (40, 5), (10_000, 100)])
def test_held_facts_written_once_give_the_tables_batches_give(batch: int, limit: int) -> None:
    events = scripted().events
    live = MemoryTables()
    facts: dict[str, ContributorFacts] = {}
    for start in range(0, len(events), 25):
        facts, ops = project_batch(facts, events[start : start + 25])
        live.apply(ops)
    assert _rebuild(events, batch, limit).snapshot() == live.snapshot()


def test_the_limit_writes_the_least_recently_touched_first() -> None:
    events = scripted().events
    first, second, third = list(dict.fromkeys(e.subject for e in events))[:3]

    def of(cid: str) -> list[ProjectedEvent]:
        return [e for e in events if e.subject == cid]

    held = HeldFacts(limit=2)
    held.hold(fold({}, of(first)[:-1]), [])
    held.hold(fold({}, of(second)), [])
    held.hold(fold({}, of(third)), [])
    assert held.overflow() == [first]
    held.hold(fold(held.facts([first]), of(first)[-1:]), [])  # touched again: now the latest
    assert held.overflow() == [second]
