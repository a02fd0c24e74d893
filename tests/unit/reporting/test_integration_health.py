"""Integration health against the raw events."""

from __future__ import annotations

import unicodedata
from collections import defaultdict

from services.reporting.projections.reports import (
    access_without_contract,
    accountability_gaps,
    conflicting_owners,
    probable_duplicates,
)

from .ecosystem import NOW, REPORT_DAY
from .naive import FOREVER, day_of, final_items, grants, holds, kind, state_at
from .support import STREAMS, rows


def profile(cid: str) -> dict[str, str | None]:
    """Registration overlaid with later profile updates, in stream order."""
    fields: dict[str, str | None] = {}
    for e in STREAMS[cid]:
        if kind(e) in ("registered", "profile_updated"):
            fields.update({k: v for k, v in e.data.items() if isinstance(v, str)})
    return fields


def plain_name(name: str) -> str:
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
    )
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in stripped).split()
    return " ".join(sorted(words))


def test_probable_duplicates_by_email_and_by_name_with_sponsor() -> None:
    by_email: dict[str, set[str]] = defaultdict(set)
    by_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    for cid in STREAMS:
        p = profile(cid)
        if p.get("email"):
            local, domain = str(p["email"]).split("@")
            by_email[local.split("+")[0] + "@" + domain].add(cid)
        by_name[plain_name(str(p["display_name"])), str(p["sponsor"])].add(cid)
    expected = {("email", frozenset(ids)) for ids in by_email.values() if len(ids) > 1} | {
        ("name_and_sponsor", frozenset(ids)) for ids in by_name.values() if len(ids) > 1
    }
    found = probable_duplicates(rows("contributor_facts"))
    assert {(d.match, frozenset(d.contributor_ids)) for d in found} == expected
    assert expected == {
        ("email", frozenset({"con-1", "dup-a"})),
        ("name_and_sponsor", frozenset({"con-1", "dup-a"})),
        ("name_and_sponsor", frozenset({"dup-b", "dup-c"})),
    }
    email = next(d for d in found if d.match == "email")
    assert email.source_systems == ("fieldglass", "workday")


def test_accountability_gaps_include_sponsors_who_have_left() -> None:
    left = {
        cid for cid, s in STREAMS.items() if (state_at(s, FOREVER) or {})["state"] == "offboarded"
    }
    expected = {
        (cid, "sponsor_offboarded")
        for cid in STREAMS
        if cid not in left and profile(cid)["sponsor"] in left
    }
    found = accountability_gaps(rows("contributor_facts"))
    assert (
        {(g.contributor_id, g.gap) for g in found} == expected == {("bot-1", "sponsor_offboarded")}
    )


def test_access_held_without_a_contract_covering_today() -> None:
    expected = set()
    for cid, stream in STREAMS.items():
        contracts = final_items(stream, "contract", "contract_id").values()
        covered = any(
            day_of(k["start"]) <= REPORT_DAY
            and (k["end"] is None or day_of(k["end"]) >= REPORT_DAY)
            for k in contracts
        )
        if not covered and any(holds(g, NOW) for g in grants(stream)):
            expected.add(cid)
    found = access_without_contract(rows("access_grants"), rows("contracts"), NOW)
    # Employees count too: emp-2 has no contract on record (emp-1's is open-ended).
    assert {u.contributor_id for u in found} == expected == {"agy-1", "emp-2", "sub-1"}
    assert {u.highest_classification for u in found} == {"internal"}


def test_conflicting_owners_are_systems_claiming_different_functions() -> None:
    expected = set()
    for cid, stream in STREAMS.items():
        claims = {}
        for e in stream:
            if kind(e) in ("registered", "profile_updated") and "owning_function" in e.data:
                claims[e.source] = e.data["owning_function"]
        if len(set(claims.values())) > 1:
            expected.add((cid, tuple(sorted(claims.items()))))
    found = conflicting_owners(rows("contributor_facts"))
    assert {(o.contributor_id, o.claims) for o in found} == expected
    assert expected == {("dup-b", (("/hris", "legal"), ("/vms", "business_development")))}
