"""The projection: `project(facts, event) -> (facts, row operations)`.

The operations are the difference between the rows derived from the facts before and
after the event, so applying them to the tables as they were leaves the tables exactly as
a rebuild would. The facts themselves travel in the `contributor_facts` row (its `history`
column); an adapter loads them with `facts_from_row` and stores them through the same
operations, in the same transaction as its consumer offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.reporting.projections.derive import RowSet, derive_rows
from services.reporting.projections.facts import ContributorFacts, read_event
from services.reporting.projections.model import Delete, ProjectedEvent, RowOp, Upsert
from services.reporting.projections.timeline import Step, effective_steps


@dataclass(frozen=True, slots=True)
class Projection:
    facts: ContributorFacts | None
    """None until an event reporting uses arrives for the contributor."""
    ops: tuple[RowOp, ...]


def project(facts: ContributorFacts | None, event: ProjectedEvent) -> Projection:
    """Fold one event into the contributor's facts; a duplicate or an ignored type changes
    nothing and yields no operations."""
    if facts is not None and facts.contributor_id != event.subject:
        raise ValueError(
            f"event {event.event_id} is about {event.subject}, not {facts.contributor_id}"
        )
    fact = read_event(event)
    if fact is None:
        return Projection(facts, ())
    before = facts if facts is not None else ContributorFacts(event.subject)
    after = before.with_fact(fact)
    if after is facts:
        return Projection(facts, ())
    return Projection(after, tuple(diff(_rows(facts), derive_rows(after))))


def project_batch(
    facts: Mapping[str, ContributorFacts], events: Iterable[ProjectedEvent]
) -> tuple[dict[str, ContributorFacts], list[RowOp]]:
    """Many events at once: each touched contributor's rows are derived once, at the end.

    Gives the same tables as projecting the events one by one; a consumer uses it per batch
    and a rebuild uses it with no facts and the whole log.
    """
    derived, ops = project_derived({cid: Derived(f) for cid, f in facts.items()}, events)
    current = {cid: d.facts for cid, d in derived.items()}
    return {**facts, **current}, ops


@dataclass(frozen=True, slots=True)
class Derived:
    """A contributor's facts, and the rows derived from them if they are already known."""

    facts: ContributorFacts
    rows: RowSet | None = None
    steps: tuple[Step, ...] = ()
    """The effective steps the rows came from, if known: the facts that arrive later mostly
    take effect after them, so a later derivation folds only those."""

    def derived_rows(self) -> RowSet:
        return self.rows if self.rows is not None else derive_rows(self.facts)


def project_derived(
    known: Mapping[str, Derived], events: Iterable[ProjectedEvent]
) -> tuple[dict[str, Derived], list[RowOp]]:
    """`project_batch` for a caller that keeps derived rows between batches: rows given in
    `known` are not derived again. Returns the contributors the events changed, with their
    new facts and rows, and the operations."""
    current = {cid: d.facts for cid, d in known.items()}
    for event in events:
        fact = read_event(event)
        if fact is None:
            continue
        facts = current.get(event.subject, ContributorFacts(event.subject))
        current[event.subject] = facts.with_fact(fact)
    changed: dict[str, Derived] = {}
    ops: list[RowOp] = []
    for contributor_id in sorted(current):
        after = current[contributor_id]
        before = known.get(contributor_id)
        if before is None or after is not before.facts:
            steps = effective_steps(after.registry, before.steps if before else ())
            rows = derive_rows(after, steps)
            ops.extend(diff(before.derived_rows() if before else {}, rows))
            changed[contributor_id] = Derived(after, rows, tuple(steps))
    return changed, ops


def diff(before: RowSet, after: RowSet) -> list[RowOp]:
    """Deletes, then upserts of new or changed rows, each in (table, key) order."""
    deletes: list[RowOp] = [
        Delete(table, key) for table, key in sorted(before.keys() - after.keys())
    ]
    upserts: list[RowOp] = [
        Upsert(table, key, values)
        for (table, key), values in sorted(after.items(), key=lambda item: item[0])
        if before.get((table, key)) != values
    ]
    return deletes + upserts


def facts_from_row(contributor_id: str, values: Mapping[str, Any]) -> ContributorFacts:
    """The facts stored in a `contributor_facts` row."""
    return ContributorFacts.from_history(contributor_id, values["history"])


def _rows(facts: ContributorFacts | None) -> RowSet:
    return {} if facts is None else derive_rows(facts)
