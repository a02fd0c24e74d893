"""Reporting in the embedded mode: registry and reporting in one app on SQLite files and the
in-process transport, as `wfe dev` runs them. Same routes, same consumer contract."""

from __future__ import annotations

from pathlib import Path

from services.registry.app import definition as registry
from services.reporting.app import definition as reporting
from shared.app import create_app
from shared.settings import ServiceSettings
from tests.e2e.registry_client import RegistryClient
from tests.faults.harness import eventually
from tests.servers import SIGNING_KEY, serve


async def test_reports_follow_the_registry_in_one_process(tmp_path: Path) -> None:
    # Explicitly no PostgreSQL and no Kafka, whatever the environment says.
    settings = ServiceSettings(
        data_dir=tmp_path,
        signing_key=SIGNING_KEY,
        database_url=None,
        kafka_bootstrap_servers=None,
    )
    app = create_app([registry(), reporting()], settings, "embedded")
    async with serve(app) as running, running.client() as http:
        api = RegistryClient(http)
        for kind in ("contractor", "contractor", "partner"):
            created = await api.register(kind)
            await api.do(created["id"], "/onboarding")

        async def caught_up() -> bool:
            ready = (await http.get("/readyz")).json()["services"]
            freshness = (await http.get("/v1/reports/freshness")).json()
            return ready["registry"]["outbox_backlog"] == 0 and bool(freshness["caught_up"])

        await eventually(caught_up, 30, "reporting to catch up")
        composition = await http.get("/v1/reports/composition", params={"by": "contributor_type"})
        assert composition.status_code == 200, composition.text
        counts = {i["contributor_type"]: i["count"] for i in composition.json()["items"]}
        assert counts == {"contractor": 2, "partner": 1}
        csv = await http.get(
            "/v1/reports/compliance/posture", headers={"accept": "text/csv;q=1, */*;q=0.5"}
        )
        assert csv.text.splitlines()[1].startswith("contractor,2,0,0,0,0,2,")
