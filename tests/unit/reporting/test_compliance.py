"""Compliance posture and overdue checks against the raw events."""

from __future__ import annotations

from collections import Counter, defaultdict

from services.reporting.projections.reports import compliance_posture, overdue_checks

from .ecosystem import REPORT_DAY
from .naive import FOREVER, by_effect, day_of, kind, latest_policy, state_at
from .support import EVENTS, STREAMS, rows


def current() -> dict[str, str]:
    """Contributor id -> type, for everyone registered and not offboarded now."""
    found = {}
    for cid, stream in STREAMS.items():
        s = state_at(stream, FOREVER)
        if s is not None and s["state"] != "offboarded":
            found[cid] = s["type"]
    return found


def test_posture_per_type_counts_each_current_contributors_latest_status() -> None:
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for cid, type_ in current().items():
        decision = latest_policy(EVENTS, cid, "compliance_status_changed.v1")
        expected[type_][decision["status"] if decision else "unknown"] += 1
    posture = compliance_posture(rows("contributor_facts"))
    assert {p.contributor_type: Counter(+Counter(p.counts)) for p in posture} == expected
    for p in posture:
        assert sum(p.counts.values()) == p.contributors
        assert abs(sum(p.percent.values()) - 100) < 1e-9
    # con-1's non_compliant (June) wins over a pending decision delivered after it.
    contractors = next(p for p in posture if p.contributor_type == "contractor")
    assert contractors.counts["non_compliant"] == 1
    assert contractors.percent["non_compliant"] == 50.0


def test_overdue_checks_are_expired_results_of_current_contributors() -> None:
    expected = set()
    for cid, type_ in current().items():
        latest: dict[str, dict[str, object]] = {}
        for e in by_effect(STREAMS[cid]):
            if kind(e) == "check_recorded":
                latest[e.data["check"]] = dict(e.data)
        for check, data in latest.items():
            until = data["valid_until"]
            valid = data["outcome"] in ("passed", "waived") and until is not None
            if valid and day_of(str(until)) < REPORT_DAY:
                expected.add((cid, type_, check, (REPORT_DAY - day_of(str(until))).days))
    found = overdue_checks(rows("compliance_checks"), rows("contributor_facts"), REPORT_DAY)
    assert {(o.contributor_id, o.contributor_type, o.check, o.days_overdue) for o in found} == (
        expected
    )
    assert expected == {("con-1", "contractor", "background_check", 29)}
