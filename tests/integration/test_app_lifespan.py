"""What a service process does around its lifetime, in the embedded mode (no external
parts needed)."""

from __future__ import annotations

import gc
from pathlib import Path

from services.registry.app import definition as registry
from shared.app import create_app
from shared.settings import ServiceSettings
from tests.servers import SIGNING_KEY, serve


async def test_startup_objects_are_frozen_while_serving_and_released_after(
    tmp_path: Path,
) -> None:
    settings = ServiceSettings(
        data_dir=tmp_path, signing_key=SIGNING_KEY, database_url=None, kafka_bootstrap_servers=None
    )
    app = create_app([registry()], settings, "lifespan")
    gc.unfreeze()  # what an app still served by an earlier test in this process froze
    async with serve(app) as running, running.client() as http:
        assert (await http.get("/healthz")).status_code == 200
        # Modules, routes and schemas are out of the collector's way while serving.
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
