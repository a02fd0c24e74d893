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

    Gives the same tables as projecting the events one by one; a live consumer uses it per
    batch.
    """
    changed = fold(facts, events)
    ops: list[RowOp] = []
    for contributor_id in sorted(changed):
        ops.extend(diff(_rows(facts.get(contributor_id)), derive_rows(changed[contributor_id])))
    return {**facts, **changed}, ops


def fold(
    facts: Mapping[str, ContributorFacts], events: Iterable[ProjectedEvent]
) -> dict[str, ContributorFacts]:
    """The facts of the contributors the events change, with the events folded in; nothing
    is derived. Raises what `read_event` and `ContributorFacts.with_fact` raise, before
    anything is returned."""
    changed: dict[str, ContributorFacts] = {}
    for event in events:
        fact = read_event(event)
        if fact is None:
            continue
        before = changed.get(event.subject)
        if before is None:
            before = facts.get(event.subject)
        current = before if before is not None else ContributorFacts(event.subject)
        after = current.with_fact(fact)
        if after is not before:
            changed[event.subject] = after
    return changed


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
