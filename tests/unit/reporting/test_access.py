"""Access risk, including what only a back-dated event reveals."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from services.registry.domain import commands as c
from services.registry.domain.state import Contract
from services.reporting.projections import MemoryTables, project_batch
from services.reporting.projections.access import uncovered_by_contracts
from services.reporting.projections.reports import (
    access_after_end,
    external_sensitive_access,
    grants_without_expiry,
)

from .ecosystem import NOW, Ecosystem, at
from .naive import FOREVER, final_items, grants, holds, midnight, state_at
from .support import STREAMS, rows

DAY = timedelta(days=1)


def held_now() -> list[tuple[str, str, dict[str, Any]]]:
    """(contributor id, current type, grant) for every grant held at NOW."""
    found = []
    for cid, stream in STREAMS.items():
        s = state_at(stream, FOREVER)
        assert s is not None
        found += [(cid, s["type"], g) for g in grants(stream) if holds(g, NOW)]
    return found


def test_external_contributors_holding_confidential_or_restricted_access() -> None:
    expected = {
        (cid, g["grant_id"])
        for cid, type_, g in held_now()
        if type_ != "employee" and g["classification"] in ("confidential", "restricted")
    }
    found = external_sensitive_access(rows("access_grants"), NOW)
    assert {(g.contributor_id, g.grant_id) for g in found} == expected == {("con-1", "g-c1")}


def test_grants_without_expiry() -> None:
    expected = {(cid, g["grant_id"]) for cid, _, g in held_now() if g["expires_at"] is None}
    found = grants_without_expiry(rows("access_grants"), NOW)
    assert {(g.contributor_id, g.grant_id) for g in found} == expected
    assert expected == {("emp-1", "g-e1"), ("agy-1", "g-a1"), ("sub-1", "g-s1")}


def naive_exposures(at_: datetime) -> dict[tuple[str, str, str], float]:
    """Days each grant was held after the (last) offboarding or after the last contract day,
    up to `at_`; enough for an ecosystem without re-engagement after a held grant."""
    found = {}
    for cid, stream in STREAMS.items():
        offboarded = [e.effective_time for e in stream if e.type.endswith("offboarded.v1")]
        ends = [item["end"] for item in final_items(stream, "contract", "contract_id").values()]
        for g in grants(stream):
            until = min(g["until"] or at_, at_)
            limits = {"after_offboarding": max(offboarded) if offboarded else None}
            if ends and None not in ends:
                limits["after_contract_end"] = midnight(date.fromisoformat(max(ends)) + DAY)
            for kind_, since in limits.items():
                if since is not None and until > max(since, g["from"]):
                    found[cid, g["grant_id"], kind_] = (until - max(since, g["from"])) / DAY
    return found


def test_access_held_after_offboarding_or_contract_end() -> None:
    found = access_after_end(rows("access_exposures"), NOW)
    assert {(x.contributor_id, x.grant_id, x.kind): x.days for x in found} == pytest.approx(
        naive_exposures(NOW)
    )


def test_back_dated_offboarding_counts_the_days_until_the_revocation_was_recorded() -> None:
    found = {(x.grant_id, x.kind): x for x in access_after_end(rows("access_exposures"), NOW)}
    # Offboarded effective 20 June noon, known and revoked on 30 June noon: ten days.
    assert found["g-x1", "after_offboarding"].days == 10.0
    assert found["g-x2", "after_offboarding"].days == 10.0
    # The contract's last day was 20 June, so from 21 June 00:00: nine and a half days.
    assert found["g-x1", "after_contract_end"].days == 9.5
    # agy-1's contract ended 25 June and the grant is still held: still growing.
    ongoing = found["g-a1", "after_contract_end"]
    assert (ongoing.exposed_until, ongoing.days) == (None, 4.5)
    tomorrow = access_after_end(rows("access_exposures"), NOW + DAY)
    assert [x.days for x in tomorrow if x.grant_id == "g-a1"] == [5.5]


def test_revocations_end_holding_when_they_took_effect_unless_back_dated() -> None:
    e = Ecosystem()
    e.register("c-1", "contractor", at(1, 6))
    e.onboard("c-1", at(1, 6), DAY)
    for grant_id in ("g-1", "g-2", "g-3"):
        e.grant("c-1", grant_id, "internal", at(1, 8))
    # A connector a minute behind: the same instant. Two days behind: counted from recording.
    revoke = c.RevokeAccess(contributor_id="c-1", grant_id="g-1", reason="requested")
    e.do(revoke, at(2, 1) + timedelta(minutes=1), effective=at(2, 1))
    e.do(revoke.model_copy(update={"grant_id": "g-2"}), at(2, 3), effective=at(2, 1))
    e.do(c.Offboard(contributor_id="c-1", reason="resigned"), at(3, 1))
    tables = MemoryTables()
    tables.apply(project_batch({}, e.events)[1])
    assert [(g["grant_id"], g["held_until"]) for g in tables.rows("access_grants")] == [
        ("g-1", at(2, 1)),
        ("g-2", at(2, 3)),
        ("g-3", at(3, 1)),
    ]
    assert tables.rows("access_exposures") == []


@pytest.mark.parametrize("open_first", [True, False])
def test_contracts_starting_the_same_day_one_open_ended(open_first: bool) -> None:
    # Hypothesis found this: sorting (start, end) pairs compared an open end (None) with a
    # date when two contracts started the same day, and the projection raised.
    start = date(2024, 11, 1)
    open_ended = Contract("k-1", "Acme", start, None, "doc:1", "in_force")
    one_day = Contract("k-2", "Acme", start, start, "doc:2", "in_force")
    both = [open_ended, one_day] if open_first else [one_day, open_ended]
    assert uncovered_by_contracts(both) == []
    # Without the open-ended one, what follows the one day is uncovered.
    assert uncovered_by_contracts([one_day]) == [(midnight(start + DAY), None)]
