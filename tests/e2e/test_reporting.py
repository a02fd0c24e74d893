"""Reporting's reports end to end, on both backends (the `stack` fixture): the registry and
reporting served, a scripted ecosystem posted through the registry's API, policy decisions on
the policy topic, and every report checked against a fold of the registry's own histories
done here."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e import test_reporting_expected as expected
from tests.e2e.test_reporting_script import Script, Stack, scripted
from tests.e2e.test_reporting_tables import DIMENSIONS, counted, instant, items, streams


@pytest.fixture(scope="module")
async def script(stack: Stack) -> Script:
    return await scripted(stack)


@pytest.fixture(scope="module")
async def history(stack: Stack, script: Script) -> dict[str, list[expected.Ev]]:
    """Every contributor's history; fetched once, as nothing here writes after the script."""
    return await streams(stack)


@pytest.fixture
async def reports(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.reporting.client("reports:read") as client:
        yield client


async def test_composition_now_filtered_and_daily(
    history: dict[str, list[expected.Ev]], script: Script, reports: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    lines = await items(reports, "/v1/reports/composition", at=now.isoformat())
    assert counted(lines, *DIMENSIONS) == expected.composition(history, now)
    assert sum(line["count"] for line in lines) == len(history) >= 100
    contractors = await items(
        reports, "/v1/reports/composition", type="contractor", business_unit="logistics"
    )
    assert counted(contractors, *DIMENSIONS) == Counter(
        {
            k: n
            for k, n in expected.composition(history, now).items()
            if k[0] == "contractor" and k[2] == "logistics"
        }
    )
    first, last = now.date() - timedelta(days=100), now.date()
    series = await items(
        reports, "/v1/reports/composition/series", **{"from": str(first), "to": str(last)}
    )
    days = {(line["day"], *(line[k] for k in DIMENSIONS)): line["count"] for line in series}
    want = {
        (str(first + timedelta(days=n)), *key): count
        for n in range((last - first).days + 1)
        for key, count in expected.composition(
            history, expected.end_of_day(first + timedelta(days=n))
        ).items()
    }
    assert days == want
    # The back-dated move to another unit shows in the days before it was recorded.
    assert any(
        key[3] == "platform-east" and key[0] < str(last - timedelta(days=30)) for key in want
    )


async def test_lifecycle_reports(
    history: dict[str, list[expected.Ev]], script: Script, reports: httpx.AsyncClient
) -> None:
    today = script.now.date()
    first = today - timedelta(days=200)
    window = {"from": str(first), "to": str(today)}
    onboarding = await items(reports, "/v1/reports/lifecycle/time-to-onboard", **window)
    since, until = expected.midnight(first), expected.midnight(today + timedelta(days=1))
    assert {
        line["contributor_type"]: (line["completed"], line["p50_days"], line["p90_days"])
        for line in onboarding
    } == expected.time_to_onboard(history, since, until)
    ending = await items(reports, "/v1/reports/lifecycle/contracts-ending", on=str(today))
    assert {
        (line["contributor_type"], line["within_days"]): sorted(
            (c["contributor_id"], c["contract_id"]) for c in line["contracts"]
        )
        for line in ending
    } == expected.contracts_ending(history, today, [30, 60, 90])
    flow = await items(reports, "/v1/reports/lifecycle/engagements", **window)
    got = Counter(
        {
            (line["period"], line["contributor_type"], what): line[what]
            for line in flow
            for what in ("started", "ended")
        }
    )
    assert +got == expected.engagement_flow(history, first, today)
    conversions = await items(reports, "/v1/reports/lifecycle/conversions", **window)
    converted = sum(1 for evs in history.values() for e in evs if e.kind == "type_converted")
    assert sum(line["count"] for line in conversions) == converted > 0


async def test_compliance_reports(
    history: dict[str, list[expected.Ev]], script: Script, reports: httpx.AsyncClient
) -> None:
    current = expected.current(history)
    statuses = expected.latest_statuses(script.decisions)
    want: dict[str, Counter[str]] = {}
    for cid, s in current.items():
        want.setdefault(s["contributor_type"], Counter())[statuses.get(cid, "unknown")] += 1
    posture = await items(reports, "/v1/reports/compliance/posture")
    buckets = ("compliant", "pending", "non_compliant", "expired", "unknown")
    assert {
        line["contributor_type"]: +Counter({b: line[b] for b in buckets}) for line in posture
    } == want
    today = script.now.date()
    overdue = await items(reports, "/v1/reports/compliance/overdue-checks", on=str(today))
    assert sorted((o["contributor_id"], o["check"], o["days_overdue"]) for o in overdue) == sorted(
        (cid, name, (today - datetime.fromisoformat(c["valid_until"]).date()).days)
        for cid, s in current.items()
        for name, c in s["checks"].items()
        if c["outcome"] in ("passed", "waived")
        and c["valid_until"]
        and c["valid_until"] < str(today)
    )


async def test_access_risk_reports(
    history: dict[str, list[expected.Ev]], script: Script, reports: httpx.AsyncClient
) -> None:
    at = datetime.now(UTC)
    kinds = {cid: expected.now_state(evs)["contributor_type"] for cid, evs in history.items()}
    held = [w for cid, evs in history.items() for w in expected.windows(cid, evs) if w.holds(at)]
    sensitive = await items(
        reports, "/v1/reports/access-risk/external-sensitive", at=at.isoformat()
    )
    assert sorted((g["contributor_id"], g["grant_id"]) for g in sensitive) == sorted(
        (w.cid, w.grant_id)
        for w in held
        if w.classification in ("confidential", "restricted") and kinds[w.cid] != "employee"
    )
    forever = await items(reports, "/v1/reports/access-risk/without-expiry", at=at.isoformat())
    assert sorted((g["contributor_id"], g["grant_id"]) for g in forever) == sorted(
        (w.cid, w.grant_id) for w in held if w.expires_at is None
    )
    after = await items(reports, "/v1/reports/access-risk/after-end", at=at.isoformat())
    got = sorted(
        (x["contributor_id"], x["grant_id"], x["kind"], round(x["days"], 6)) for x in after
    )
    assert got == sorted(
        x for cid, evs in history.items() for x in expected.exposures(cid, evs, at)
    )
    late = [x for x in after if x["kind"] == "after_offboarding"]
    # The script back-dates some offboardings by ten days while their access goes only now.
    back_dated = {
        cid
        for cid, evs in history.items()
        if any(e.kind == "offboarded" and e.rec - e.eff > timedelta(days=9) for e in evs)
    }
    assert back_dated
    assert {x["contributor_id"] for x in late} == back_dated
    assert all(10 <= x["days"] < 10.1 for x in late), late
    assert any(x["kind"] == "after_contract_end" and x["exposed_until"] for x in after)


async def test_dei_coverage(
    history: dict[str, list[expected.Ev]], script: Script, reports: httpx.AsyncClient
) -> None:
    current = expected.current(history)
    extended = expected.extended_programs(script.decisions)
    population = Counter(s["contributor_type"] for s in current.values())
    coverage = await items(reports, "/v1/reports/dei/coverage")
    for line in coverage:
        kind, program = line["contributor_type"], line["program"]
        members = [cid for cid, s in current.items() if s["contributor_type"] == kind]
        enrolled = sum(program in current[cid]["programs"] for cid in members)
        assert line["contributors"] == population[kind]
        assert line["extended"] == sum(program in extended.get(cid, ()) for cid in members)
        released = enrolled >= 5 and population[kind] - enrolled >= 5
        assert line["enrolled"] == (enrolled if released else None), line
    assert any(line["enrolled"] is None for line in coverage)
    assert any(line["enrolled"] for line in coverage)


async def test_integration_health(
    history: dict[str, list[expected.Ev]], script: Script, reports: httpx.AsyncClient
) -> None:
    duplicates = await items(reports, "/v1/reports/integration-health/duplicates")
    assert [tuple(d["contributor_ids"]) for d in duplicates] == [tuple(sorted(script.name_twins))]
    offboarded = set(history) - set(expected.current(history))
    gaps = await items(reports, "/v1/reports/integration-health/accountability-gaps")
    assert [(g["contributor_id"], g["gap"]) for g in gaps] == [
        (script.orphaned, "sponsor_offboarded")
    ]
    assert history[script.orphaned][0].data["sponsor"] in offboarded
    owners = await items(reports, "/v1/reports/integration-health/conflicting-owners")
    assert owners == [
        {
            "contributor_id": script.claimed_twice,
            "claims": [["/hris", "legal"], ["/registry", "hr"]],
        }
    ]


async def test_csv_has_the_json_lines(script: Script, reports: httpx.AsyncClient) -> None:
    for path in (
        "/v1/reports/composition",
        "/v1/reports/lifecycle/contracts-ending",
        "/v1/reports/access-risk/after-end",
    ):
        at = datetime.now(UTC).isoformat()
        json_lines = await items(reports, path, at=at)
        response = await reports.get(path, params={"at": at}, headers={"accept": "text/csv"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == len(json_lines) > 0
        for row, line in zip(rows, json_lines, strict=True):
            assert set(row) == set(line)
            for key, value in line.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    assert float(row[key]) == pytest.approx(value)
                elif isinstance(value, str) and key.endswith(("_from", "_until", "_at")):
                    assert instant(row[key]) == instant(value)
                elif isinstance(value, str) or value is None:
                    assert row[key] == (value or "")
