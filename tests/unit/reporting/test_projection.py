"""The projection is idempotent and order-proof: live, batched and rebuilt rows agree."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.projections import (
    ConflictingEvent,
    ContributorFacts,
    MemoryTables,
    ProjectedEvent,
    facts_from_row,
    project,
    project_batch,
)
from services.reporting.projections.derive import derive_rows
from services.reporting.projections.model import Key
from shared.catalogue import UnknownEventType
from shared.envelope import CloudEvent

from .ecosystem import NOW, Ecosystem, at, scripted

Snapshot = dict[str, dict[Key, dict[str, Any]]]
EVENTS = scripted().events


def one_by_one(events: list[ProjectedEvent], tables: MemoryTables | None = None) -> Snapshot:
    """As a consumer would: load the facts from the tables, project, apply."""
    tables = tables or MemoryTables()
    for event in events:
        tables.apply(project(tables.facts(event.subject), event).ops)
    return tables.snapshot()


def in_one_go(events: list[ProjectedEvent]) -> Snapshot:
    tables = MemoryTables()
    tables.apply(project_batch({}, events)[1])
    return tables.snapshot()


BASELINE_TABLES = MemoryTables()
BASELINE_TABLES.apply(project_batch({}, EVENTS)[1])
BASELINE = BASELINE_TABLES.snapshot()


def test_event_by_event_batches_and_rebuild_give_identical_rows() -> None:
    assert one_by_one(EVENTS) == BASELINE
    facts: dict[str, ContributorFacts] = {}
    tables = MemoryTables()
    for i in range(0, len(EVENTS), 7):
        facts, ops = project_batch(facts, EVENTS[i : i + 7])
        tables.apply(ops)
    assert tables.snapshot() == BASELINE
    # A rebuild from offset 0 into empty tables, after the live run, gives the same rows.
    assert in_one_go(list(EVENTS)) == BASELINE


def test_every_table_is_filled_by_the_script() -> None:
    assert all(BASELINE[name] for name in BASELINE if name != "demographic_counts")


def test_duplicates_yield_no_operations_and_change_no_row() -> None:
    tables = MemoryTables()
    for event in EVENTS:
        first = project(tables.facts(event.subject), event)
        tables.apply(first.ops)
        again = project(first.facts, event)
        assert again.ops == ()
        assert again.facts is first.facts
    assert one_by_one(EVENTS, tables) == BASELINE
    assert project_batch({}, EVENTS + EVENTS)[1] == project_batch({}, EVENTS)[1]


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(EVENTS), repeats=st.lists(st.sampled_from(EVENTS), max_size=20))
def test_any_delivery_order_with_redeliveries_gives_the_same_rows(
    order: list[ProjectedEvent], repeats: list[ProjectedEvent]
) -> None:
    assert in_one_go([*order, *repeats]) == BASELINE


def test_stored_facts_round_trip_through_the_facts_row() -> None:
    facts, _ = project_batch({}, EVENTS)
    rows = {r["contributor_id"]: r for r in BASELINE_TABLES.rows("contributor_facts")}
    for cid, known in facts.items():
        assert facts_from_row(cid, rows[cid]) == known


def test_a_policy_decision_before_the_registration_is_kept_for_later() -> None:
    policy = [e for e in EVENTS if e.subject == "emp-1" and e.sequence is None]
    registry = [e for e in EVENTS if e.subject == "emp-1" and e.sequence is not None]
    tables = MemoryTables()
    one_by_one(policy, tables)
    (early,) = tables.rows("contributor_facts")
    assert early["registered"] is False
    assert early["compliance_status"] == "compliant"
    assert tables.rows("lifecycle_intervals") == []
    one_by_one(registry, tables)
    assert tables.rows("contributor_facts") == [
        r for r in BASELINE_TABLES.rows("contributor_facts") if r["contributor_id"] == "emp-1"
    ]


def test_unknown_policy_types_are_ignored_and_unknown_registry_types_refused() -> None:
    e = Ecosystem()
    e.raw_policy("x-1", "org.workforce.policy.something_new.v3", {"a": 1}, at(1, 1))
    assert project(None, e.events[0]).ops == ()
    registry_like = ProjectedEvent(
        event_id="u-1",
        type="org.workforce.contributor.teleported.v1",
        subject="x-1",
        sequence=1,
        recorded_time=at(1, 1),
        effective_time=at(1, 1),
        data={},
        source="/registry",
    )
    with pytest.raises(UnknownEventType):
        project(None, registry_like)


def test_two_events_at_one_stream_version_are_refused() -> None:
    first = EVENTS[0]
    facts = project(None, first).facts
    impostor = replace(first, event_id="someone-else")
    with pytest.raises(ConflictingEvent):
        project(facts, impostor)
    with pytest.raises(ValueError, match="not"):
        project(facts, replace(first, subject="other"))


def test_a_back_dated_event_reshapes_rows_recorded_earlier() -> None:
    con3 = [e for e in EVENTS if e.subject == "con-3"]
    late = [e for e in con3 if e.recorded_time - e.effective_time > timedelta(days=1)]
    tables = MemoryTables()
    one_by_one([e for e in con3 if e not in late], tables)
    # Known so far: the contract runs to 31 August, so only a future exposure is possible.
    assert {(r["kind"], r["exposed_from"]) for r in tables.rows("access_exposures")} == {
        ("after_contract_end", datetime(2025, 9, 1, tzinfo=UTC))
    }
    (active,) = [r for r in tables.rows("lifecycle_intervals") if r["valid_to"] is None]
    assert active["lifecycle_state"] == "active"
    one_by_one(late, tables)
    offboarded = [r for r in tables.rows("lifecycle_intervals") if r["valid_to"] is None]
    assert [(r["lifecycle_state"], r["valid_from"]) for r in offboarded] == [
        ("offboarded", at(6, 20, 12))
    ]
    assert {(r["kind"], r["exposed_from"]) for r in tables.rows("access_exposures")} == {
        ("after_offboarding", at(6, 20, 12)),
        ("after_contract_end", datetime(2025, 6, 21, tzinfo=UTC)),
    }


def test_what_was_known_then_is_derived_from_the_facts_recorded_by_then() -> None:
    facts = project_batch({}, [e for e in EVENTS if e.subject == "con-3"])[0]["con-3"]
    before = derive_rows(facts.known_at(NOW - timedelta(seconds=1)))
    after = derive_rows(facts.known_at(NOW))
    assert before[("contributor_facts", ("con-3",))]["lifecycle_state"] == "active"
    assert after[("contributor_facts", ("con-3",))]["lifecycle_state"] == "offboarded"
    assert after == derive_rows(facts)


def test_a_cloudevent_becomes_a_projected_event() -> None:
    first = EVENTS[0]
    envelope = CloudEvent(
        specversion="1.0",
        id=first.event_id,
        source=first.source,
        type=first.type,
        subject=first.subject,
        time=first.recorded_time,
        effectivetime=first.effective_time,
        sequence=first.sequence,
        data=dict(first.data),
    )
    assert ProjectedEvent.from_cloudevent(envelope) == first
    without_effect = envelope.model_copy(update={"effectivetime": None})
    assert ProjectedEvent.from_cloudevent(without_effect).effective_time == first.recorded_time
