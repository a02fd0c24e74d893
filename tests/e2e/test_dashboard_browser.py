"""The live dashboard in a real browser (Debian's Chromium driven by Playwright), against the
real stack: registry -> Kafka -> policy and reporting -> server-sent events -> the page.

The services run on topics and a database of their own, so the figures are exactly the ones
this test creates (and the screenshot, `docs/dashboard.png`, shows only them). The page is
opened once; every later change arrives over the stream, and the test waits for the text
on the page to change, with a deadline, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect
from starlette.routing import NoMatchFound

from services.policy.app import app as policy_app
from services.registry.app import app as registry_app
from services.reporting.adapters.tables import demographic_counts
from services.reporting.app import app as reporting_app
from services.reporting.dashboard import router as dashboard_router
from services.reporting.projections.reports import DemographicCount, demographic_release
from shared.settings import ServiceSettings
from tests.e2e.registry_client import RegistryClient
from tests.servers import RunningApp, isolated_settings, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
WAIT_MS = 45_000
"""Deadline for any figure to reach the page: registry -> Kafka -> reporting -> stream."""
PERIOD = "2025-Q3"


@pytest.fixture(scope="module")
async def isolated(
    stack_settings: ServiceSettings, postgres_admin_url: str
) -> AsyncIterator[ServiceSettings]:
    """The stack's settings with a fresh database and fresh topics."""
    bootstrap = stack_settings.kafka_bootstrap_servers
    assert bootstrap is not None
    data = stack_settings.data_dir
    async with isolated_settings(postgres_admin_url, bootstrap, data, "dashboard") as settings:
        # Streams end every few seconds here, so the page must also carry on across
        # reconnects (a new ticket each time) without losing a change.
        yield settings.model_copy(update={"dashboard_stream_seconds": 4.0})


def dashboard_app(settings: ServiceSettings) -> FastAPI:
    """The reporting app, with the dashboard's router if the app does not include it yet."""
    app = reporting_app(settings)
    try:
        app.url_path_for("dashboard")
    except NoMatchFound:
        app.include_router(dashboard_router)
    return app


@dataclass
class Stack:
    registry: RunningApp
    reporting: RunningApp
    reporting_app: FastAPI


@pytest.fixture(scope="module")
async def stack(isolated: ServiceSettings) -> AsyncIterator[Stack]:
    app = dashboard_app(isolated)
    async with (
        serve(registry_app(isolated)) as registry,
        serve(policy_app(isolated)),
        serve(app) as reporting,
    ):
        yield Stack(registry, reporting, app)


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def day_ago(days: int) -> str:
    return str(date.today() - timedelta(days=days))


async def contributor(
    api: RegistryClient,
    contributor_type: str,
    name: str,
    *,
    days_ago: float,
    activate: bool = True,
    business_unit: str = "logistics",
) -> str:
    """Registered `days_ago`, onboarded and (by default) activated right after."""
    created = await api.register(
        contributor_type,
        display_name=name,
        business_unit=business_unit,
        effective_at=ago(days_ago),
    )
    cid = str(created["id"])
    await api.do(cid, "/onboarding", {"effective_at": ago(days_ago - 0.01)})
    if activate:
        await api.do(cid, "/activation", {"effective_at": ago(days_ago - 0.02)})
    return cid


async def grant(
    api: RegistryClient, cid: str, grant_id: str, classification: str, *, days_ago: float = 0
) -> None:
    body: dict[str, Any] = {
        "grant_id": grant_id,
        "resource": f"{classification}-{grant_id}",
        "classification": classification,
    }
    if days_ago:
        body["effective_at"] = ago(days_ago)
    await api.do(cid, "/access-grants", body)


async def passed(api: RegistryClient, cid: str, *checks: str) -> None:
    valid_until = str(date.today() + timedelta(days=300))
    for check in checks:
        await api.do(
            cid, "/checks", {"check": check, "outcome": "passed", "valid_until": valid_until}
        )


async def seed(api: RegistryClient) -> dict[str, str]:
    """The ecosystem the page first shows: 12 current contributors of 5 types, built up over
    four weeks, most of them with the checks their type's policy requires; one agency
    worker holds confidential access."""
    ids: dict[str, str] = {}
    for i in range(5):
        ids[f"employee-{i}"] = await contributor(
            api, "employee", f"Employee {i}", days_ago=27 - i, business_unit="finance"
        )
    for i in range(3):
        cid = await contributor(api, "contractor", f"Contractor {i}", days_ago=20 - 2 * i)
        ids[f"contractor-{i}"] = cid
        await api.do(
            cid,
            "/contracts",
            {
                "contract_id": "k-1",
                "legal_entity": "ACME Staffing",
                "start": day_ago(20),
                "end": day_ago(-200),
                "terms_reference": "msa-17",
            },
        )
    for i in range(2):
        ids[f"agency-{i}"] = await contributor(
            api, "agency_worker", f"Agency worker {i}", days_ago=14 - 3 * i
        )
    await grant(api, ids["agency-0"], "g-agency", "confidential", days_ago=9)
    ids["partner"] = await contributor(api, "partner", "Partner Co", days_ago=10)
    ids["agent"] = await contributor(api, "digital_agent", "Invoice bot", days_ago=6)
    for i in range(5):
        await api.do(ids[f"employee-{i}"], "/dei-enrolments", {"program": "mentoring"})
    employee_checks = ("identity_verification", "background_check", "nda", "security_training")
    for i in range(4):
        await passed(api, ids[f"employee-{i}"], *employee_checks)
    await passed(api, ids["employee-4"], "identity_verification", "nda")
    contractor_checks = (*employee_checks, "misclassification_assessment")
    for i in (1, 2):
        await passed(api, ids[f"contractor-{i}"], *contractor_checks)
    await passed(api, ids["agency-1"], "identity_verification", "nda", "security_training")
    await passed(api, ids["partner"], "nda")
    await passed(api, ids["agent"], "agent_security_review")
    return ids


async def release_demographics(stack: Stack) -> dict[str, Any]:
    """Counts as the aggregate feed delivers them (stored where its adapter stores them),
    then released through the report API, which freezes the table."""
    counts = [
        DemographicCount(PERIOD, "employee", "age_band", "18-29", 7),
        DemographicCount(PERIOD, "employee", "age_band", "30-44", 12),
        DemographicCount(PERIOD, "employee", "age_band", "45+", 3),
        DemographicCount(PERIOD, "contractor", "age_band", "18-29", 2),
        DemographicCount(PERIOD, "contractor", "age_band", "30-44", 6),
        DemographicCount(PERIOD, "contractor", "age_band", "45+", 5),
        DemographicCount(PERIOD, "agency_worker", "age_band", "18-29", 9),
        DemographicCount(PERIOD, "agency_worker", "age_band", "30-44", 8),
        DemographicCount(PERIOD, "agency_worker", "age_band", "45+", 6),
    ]
    engine = stack.reporting_app.state.services["reporting"].engine
    async with engine.begin() as conn:
        await conn.execute(demographic_counts.insert(), [dataclasses.asdict(c) for c in counts])
    async with stack.reporting.client("reports:read", "dei:aggregate") as http:
        response = await http.get(
            "/v1/reports/dei/demographics", params={"period": PERIOD, "dimension": "age_band"}
        )
        assert response.status_code == 200, response.text
    table = demographic_release(counts, PERIOD, "age_band").table
    assert table is not None
    assert any(None in line for line in table.cells), "the example should suppress some cells"
    return {
        "rows": table.rows,
        "cells": table.cells,
        "row_totals": table.row_totals,
        "total": table.total,
    }


def text_of(value: int | None) -> str:
    return "suppressed" if value is None else str(value)


async def kpi(page: Page, name: str, value: str) -> None:
    await expect(page.locator(f"#kpi-{name}")).to_have_text(value)


async def test_the_dashboard_follows_the_events_live(stack: Stack, tmp_path: Path) -> None:
    async with stack.registry.client() as http:
        api = RegistryClient(http)
        ids = await seed(api)

        token = stack.reporting.authenticator.mint("dei-office", ["reports:read", "dei:aggregate"])
        problems: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_FLAGS
            )
            try:
                # Reduced motion: the page then draws its charts without animation, so the
                # screenshot never catches one halfway.
                page = await browser.new_page(
                    viewport={"width": 1440, "height": 1000}, reduced_motion="reduce"
                )
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                page.on(
                    "console",
                    lambda m: (
                        problems.append(f"console {m.type}: {m.text}")
                        if m.type in ("error", "warning")
                        else None
                    ),
                )
                # Any figure may wait for registry -> Kafka -> reporting -> stream.
                expect.set_options(timeout=WAIT_MS)
                await page.goto(f"{stack.reporting.base_url}/dashboard?token={token}")

                # The token is taken once, kept for the tab, and gone from the address bar.
                assert "token" not in page.url
                assert await page.evaluate("sessionStorage.getItem('wfe.dashboard.token')") == token

                # The initial figures, as soon as reporting has consumed the seeded events.
                await expect(page.locator("#status")).to_have_text("Live")
                await kpi(page, "contributors", "12")
                await kpi(page, "external-sensitive", "1")
                await kpi(page, "after-end", "0")
                await kpi(page, "lag", "0")
                sensitive = page.locator("#external-sensitive tbody tr")
                await expect(sensitive).to_have_count(1)
                await expect(sensitive.first).to_contain_text(ids["agency-0"])
                await expect(page.locator("#after-end-empty")).to_be_visible()
                employees = page.locator("#compliance-table tr[data-type='employee'] td").last
                await expect(employees).to_have_text("5")
                mentoring = page.locator(
                    "#dei-coverage tr[data-type='employee']"
                    " td[data-program='mentoring'][data-measure='enrolled']"
                )
                # All 5 employees enrolled: the others number 0 < k, so the count is hidden.
                await expect(mentoring).to_contain_text("suppressed")
                await expect(page.locator("#demographics-empty")).to_contain_text("released")
                # This document stays loaded: everything from here on arrives over the stream.
                await page.evaluate("window.sameDocument = true")

                # Events flow: new contributors of new types...
                for kind, name in [
                    ("gig_worker", "Courier A"),
                    ("gig_worker", "Courier B"),
                    ("app_developer", "Plugin Labs"),
                ]:
                    await contributor(api, kind, name, days_ago=0.05)
                firm = await contributor(api, "subcontractor", "Build & Co", days_ago=0.05)
                await kpi(page, "contributors", "16")

                # ...sensitive access granted to externals...
                await grant(api, ids["contractor-0"], "g-crm", "confidential")
                await grant(api, firm, "g-vault", "restricted")
                await grant(api, ids["employee-0"], "g-payroll", "restricted")  # internal
                await kpi(page, "external-sensitive", "3")
                await expect(page.locator("#external-sensitive tbody tr")).to_have_count(3)
                await expect(
                    page.locator("#external-sensitive tr[data-grant='g-vault']")
                ).to_contain_text("restricted")

                # ...and an offboarding recorded today that took effect three days ago, while
                # the agency worker still held confidential access: three days of exposure.
                await api.do(
                    ids["agency-0"],
                    "/offboarding",
                    {"reason": "contract_ended", "effective_at": ago(3)},
                )
                await kpi(page, "contributors", "15")
                await kpi(page, "external-sensitive", "2")
                await kpi(page, "after-end", "1")
                exposure = page.locator("#after-end tr[data-grant='g-agency']")
                await expect(exposure).to_contain_text("after offboarding")
                await expect(exposure.locator("td.days")).to_have_text("3.0")
                await expect(exposure).to_contain_text("revoked")

                # The DEI office releases a demographic table: it appears with the
                # suppressed cells shown as suppressed, never as numbers.
                released = await release_demographics(stack)
                table = page.locator("#demographics table[data-dimension='age_band']")
                await expect(table).to_be_visible()
                for i, label in enumerate(released["rows"]):
                    cells = table.locator(f"tr[data-type='{label}'] td")
                    expected = [
                        text_of(n) for n in (*released["cells"][i], released["row_totals"][i])
                    ]
                    await expect(cells).to_have_text(
                        [label.replace("_", " ").capitalize(), *expected]
                    )
                await expect(table.locator(".suppressed").first).to_be_visible()

                await kpi(page, "lag", "0")
                assert await page.evaluate("window.sameDocument === true")
                updates = int(await page.evaluate("document.body.dataset.updates"))
                assert updates >= 4, f"only {updates} messages reached the page"
                # The server ends each stream after 4 s here; the page must open a new one.
                await expect(page.locator("body")).to_have_attribute(
                    "data-connections", re.compile(r"^([2-9]|[1-9]\d+)$"), timeout=20_000
                )

                await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT), full_page=True)
                await page.close()
            finally:
                await browser.close()
    assert problems == [], problems


async def first_event(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The first named event of a server-sent event stream."""
    kind = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind:
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return kind, data
    raise AssertionError("the stream ended before its first event")


async def test_the_stream_needs_a_ticket_or_a_token_with_the_right_scopes(stack: Stack) -> None:
    base = stack.reporting.base_url
    async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:
        page = await anonymous.get("/dashboard")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        chart = await anonymous.get("/dashboard/static/chart.umd.min.js")
        assert chart.status_code == 200
        assert chart.text.startswith("/*!\n * Chart.js v4.6.1")
        again = await anonymous.get(
            "/dashboard/static/chart.umd.min.js", headers={"If-None-Match": chart.headers["etag"]}
        )
        assert again.status_code == 304
        assert (await anonymous.get("/dashboard/static/secrets.txt")).status_code == 404

        assert (await anonymous.post("/dashboard/stream-tickets")).status_code == 401
        assert (await anonymous.get("/dashboard/stream")).status_code == 401
        forged = await anonymous.get("/dashboard/stream", params={"ticket": "x.y.z"})
        assert forged.status_code == 401
        assert forged.headers["content-type"] == "application/problem+json"

    async with stack.reporting.client("contributors:read") as unrelated:
        assert (await unrelated.post("/dashboard/stream-tickets")).status_code == 403

    async with stack.reporting.client("reports:read") as reader:
        answer = await reader.post("/dashboard/stream-tickets")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        ticket = answer.json()["ticket"]
        assert answer.json()["scopes"] == ["reports:read"]
        # A ticket opens the stream and nothing else.
        as_bearer = await reader.get(
            "/v1/reports/freshness", headers={"Authorization": f"Bearer {ticket}"}
        )
        assert as_bearer.status_code == 401

    async with httpx.AsyncClient(base_url=base, timeout=30) as browser_like:
        async with (
            asyncio.timeout(30),
            browser_like.stream("GET", "/dashboard/stream", params={"ticket": ticket}) as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            kind, message = await first_event(stream)
        assert kind == "snapshot"
        sections = message["sections"]
        assert {"composition", "compliance", "access", "dei", "freshness"} <= sections.keys()
        # Without dei:aggregate, the demographic tables never leave the server.
        assert sections["demographics"] == {"allowed": False, "tables": []}

    async with stack.reporting.client("reports:read", "dei:aggregate") as script:
        async with asyncio.timeout(30), script.stream("GET", "/dashboard/stream") as stream:
            assert stream.status_code == 200
            kind, message = await first_event(stream)
        assert kind == "snapshot"
        assert message["sections"]["demographics"]["allowed"] is True
