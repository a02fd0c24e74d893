"""Rows kept between batches (a rebuild's cache) change nothing: `project_derived` given
the rows already derived gives the operations `project_batch` gives, and `DerivedCache`
keeps a batch's entries only when its one transaction committed."""

from __future__ import annotations

from services.reporting.adapters.cache import DerivedCache
from services.reporting.projections import MemoryTables, project_batch
from services.reporting.projections.project import Derived, project_derived
from tests.unit.reporting.ecosystem import scripted


def test_known_rows_give_the_same_operations_as_deriving_them_again() -> None:
    events = scripted().events
    half = len(events) // 2
    facts, first = project_batch({}, events[:half])
    known, _ = project_derived({}, events[:half])
    _, expected = project_batch(facts, events[half:])
    _, ops = project_derived(known, events[half:])
    assert ops == expected
    tables = MemoryTables()
    tables.apply(first)
    tables.apply(ops)
    whole = MemoryTables()
    whole.apply(project_batch({}, events)[1])
    assert tables.snapshot() == whole.snapshot()


def test_cache_keeps_a_batch_only_when_its_handler_ran_once() -> None:
    cache = DerivedCache(size=2)
    entry = Derived(project_batch({}, scripted().events[:1])[0].popitem()[1])
    cache.begin()
    cache.stage({"a": entry})
    cache.settle()
    assert cache.known(["a"]) == {"a": entry}
    cache.begin()
    cache.stage({"b": entry})
    cache.stage({"c": entry})  # the batch failed and was applied one event at a time
    cache.settle()
    assert len(cache) == 0
    cache.begin()
    cache.stage({"a": entry, "b": entry, "c": entry})
    cache.settle()
    assert set(cache.known(["a", "b", "c"])) == {"b", "c"}
