"""`wfe demo`'s generator: deterministic, covering, and valid against the registry's own
catalogue and rules (a rejection in a demo run would be a generator bug)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from services.registry.domain.contributor import fold
from services.registry.domain.decide import decide
from services.registry.domain.events import parse
from services.registry.domain.state import Contributor
from services.registry.domain.types import DEFAULT_CONTRIBUTOR_TYPES
from services.registry.ingestion import COMMANDS, INGESTIBLE, command_for
from shared.demo.plan import DemoPlan, build_plan
from shared.demo.rest import rest_call
from shared.envelope import CloudEvent

DAY = date(2026, 6, 15)
DEFAULT = {"seed": 7, "contributors": 2000, "years": 2}
TYPES = {
    "employee",
    "contractor",
    "agency_worker",
    "gig_worker",
    "subcontractor",
    "partner",
    "app_developer",
    "digital_agent",
}


@pytest.fixture(scope="module")
def plan() -> DemoPlan:
    """The plan `wfe demo` posts with its defaults."""
    return build_plan(DEFAULT["seed"], DEFAULT["contributors"], DEFAULT["years"], DAY)


def _fingerprint(p: DemoPlan) -> tuple[object, ...]:
    return (
        [e.cloudevent() for e in p.events],
        [e.channel for e in p.events],
        [(u.key, u.document, u.follow_ups) for u in p.scim_users],
        [(d.existing_id, d.via, d.system, d.external_id, d.document) for d in p.duplicates],
    )


def test_the_same_seed_gives_the_same_plan() -> None:
    assert _fingerprint(build_plan(3, 300, 2, DAY)) == _fingerprint(build_plan(3, 300, 2, DAY))


def test_another_seed_gives_another_plan() -> None:
    one, other = build_plan(3, 300, 2, DAY), build_plan(4, 300, 2, DAY)
    assert _fingerprint(one) != _fingerprint(other)
    assert not {e.subject for e in one.events} & {e.subject for e in other.events}
    # Two seeds in one registry are two ecosystems, not probable duplicates of each other.
    assert not {p.email for p in one.people if p.email} & {p.email for p in other.people}


def test_ids_do_not_depend_on_the_day_so_a_later_rerun_is_seen_as_duplicates() -> None:
    today, later = build_plan(3, 300, 2, DAY), build_plan(3, 300, 2, DAY + timedelta(days=9))
    assert [(e.id, e.source) for e in today.events] == [(e.id, e.source) for e in later.events]
    shifted = [e.effective + timedelta(days=9) for e in today.events]
    assert shifted == [e.effective for e in later.events]


def test_every_type_business_unit_and_owner_is_there(plan: DemoPlan) -> None:
    by_type = plan.contributors_by_type()
    assert set(by_type) == TYPES
    assert sum(by_type.values()) == DEFAULT["contributors"]
    assert set(build_plan(1, 10, 1, DAY).contributors_by_type()) == TYPES
    registrations = [e.data for e in plan.events if e.verb == "registered"]
    assert len({r["business_unit"] for r in registrations}) >= 5
    assert len({r["owning_function"] for r in registrations}) >= 5
    systems = {ref["system"] for r in registrations for ref in r["source_references"]}
    assert {"workday", "fieldglass", "gigconnect"} <= systems
    assert len({e.source for e in plan.events}) >= 6


def test_two_years_of_history_none_of_it_in_the_future(plan: DemoPlan) -> None:
    effective = sorted(e.effective for e in plan.events)
    end = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    assert effective[-1] < end
    assert effective[0] < end - timedelta(days=700)
    by_quarter = Counter((end - t).days * 8 // 730 for t in effective)
    assert len(by_quarter) == 8
    assert min(by_quarter.values()) > len(effective) // 40  # spread, not bunched


def test_the_lifecycle_and_its_twists_are_all_there(plan: DemoPlan) -> None:
    verbs = plan.verbs()
    assert set(verbs) == {
        verb.removeprefix("org.workforce.contributor.")[:-3] for verb in INGESTIBLE
    }
    # Back-dated corrections: terminations and offboardings recorded weeks after the fact.
    late = Counter(e.verb for e in plan.events if e.backdated)
    assert late["contract_terminated"] >= 20
    assert late["offboarded"] >= 20
    conversions = Counter(
        (e.data["from_type"], e.data["to_type"]) for e in plan.events if e.verb == "type_converted"
    )
    assert conversions["contractor", "employee"] >= 20
    assert verbs["reengaged"] >= 100
    assert verbs["suspended"] >= 100
    checks = [e.data for e in plan.events if e.verb == "check_recorded"]
    assert {c["outcome"] for c in checks} == {"passed", "failed", "pending"}
    grants = [e.data for e in plan.events if e.verb == "access_granted"]
    assert {g["classification"] for g in grants} == {
        "public",
        "internal",
        "confidential",
        "restricted",
    }
    assert any(g["expires_at"] is None for g in grants)


def test_duplicates_arrive_through_rest_and_scim_with_a_known_address(plan: DemoPlan) -> None:
    emails = {p.contributor_id: p.email for p in plan.people}
    assert {d.via for d in plan.duplicates} == {"rest", "scim"}
    assert len(plan.duplicates) == 30
    for d in plan.duplicates:
        assert d.email == emails[d.existing_id]
        sent = d.document.get("email") or d.document.get("userName")
        assert str(sent).lower() == d.email


def test_addresses_and_names_are_unique_except_the_planned_duplicates(plan: DemoPlan) -> None:
    # Same name and same sponsor is what the integration-health report calls a duplicate.
    names = [p.display_name for p in plan.people]
    names += [u.document["displayName"] for u in plan.scim_users]
    assert len(names) == len(set(names))
    addresses = [p.email for p in plan.people if p.email]
    addresses += [u.document["userName"] for u in plan.scim_users]
    assert len(addresses) == len(set(addresses))
    references = [
        (ref["system"], ref["external_id"])
        for e in plan.events
        if e.verb == "registered"
        for ref in e.data["source_references"]
    ]
    assert len(references) == len(set(references))


def _replay(plan: DemoPlan) -> dict[str, Contributor | None]:
    """Every event through the registry's own ingestion mapping and `decide`, in posting
    order: what the registry will do with them."""
    now = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    states: dict[str, Contributor | None] = {}
    for e in plan.events:
        envelope = CloudEvent.model_validate(e.cloudevent())
        assert envelope.type in INGESTIBLE
        payload = parse(envelope.type, envelope.data)
        command = command_for(envelope.type, e.subject, payload, envelope.effectivetime)
        state = states.get(e.subject)
        decisions = decide(state, command, now=now, types=DEFAULT_CONTRIBUTOR_TYPES)
        assert decisions, f"{e.verb} for {e.subject} would change nothing"
        states[e.subject] = fold((d.event for d in decisions), state)
    return states


def test_the_default_plan_breaks_no_registry_rule(plan: DemoPlan) -> None:
    """The registry would reject none of it (the demo asserts 0 rejected when it runs)."""
    states = _replay(plan)
    final = Counter(s.lifecycle for s in states.values() if s is not None)
    assert final["active"] > final["offboarded"] > final["suspended"] > 0
    # Orphaned access: active, every contract past its end, grants still held.
    orphaned = [
        s
        for s in states.values()
        if s is not None
        and s.lifecycle == "active"
        and s.grants
        and s.contracts
        and all(k.end is not None and k.end < DAY for k in s.contracts.values())
    ]
    assert len(orphaned) >= 10
    lapsed = [
        s
        for s in states.values()
        if s is not None
        and s.lifecycle != "offboarded"
        and any(c.valid_until is not None and c.valid_until < DAY for c in s.checks.values())
    ]
    assert len(lapsed) >= 20


@pytest.mark.parametrize("seed", [1, 3, 11])
def test_other_seeds_and_sizes_break_no_registry_rule(seed: int) -> None:
    _replay(build_plan(seed, 100 + 40 * seed, 1 + seed % 3, DAY))


def test_rest_calls_carry_exactly_the_commands_fields(plan: DemoPlan) -> None:
    rest = [e for e in plan.events if e.channel == "rest"]
    assert {e.verb for e in rest} >= {"registered", "offboarded", "access_granted"}
    for e in rest:
        method, path, body = rest_call(e)
        assert method in ("POST", "PATCH")
        assert path.startswith("/v1/contributors")
        command = COMMANDS[e.verb]
        fields = {"contributor_id": e.subject, **body}
        for name in ("contract_id", "engagement_id", "grant_id"):
            if name in command.model_fields and name in e.data:
                fields[name] = e.data[name]
        command.model_validate(fields)  # extra="forbid": no field the API would refuse
