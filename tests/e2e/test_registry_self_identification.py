"""Self-identification is encrypted per contributor and kept out of the events; erasure
destroys the key, after which nothing of it can be read and the history stays consistent."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.adapters import vault
from services.registry.adapters.tables import self_identifications
from shared.db import create_engine
from shared.settings import ServiceSettings
from tests.e2e.registry_client import RegistryClient
from tests.faults.harness import eventually, read_topic
from tests.servers import RunningApp


@pytest.fixture
async def api(registry: RunningApp) -> AsyncIterator[RegistryClient]:
    async with registry.client() as http:
        yield RegistryClient(http)


@pytest.fixture
async def registry_db(stack_settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    assert stack_settings.database_url is not None
    engine = create_engine(stack_settings.database_url, schema="registry", pool_size=2)
    yield engine
    await engine.dispose()


async def test_answers_stay_out_of_events_and_erasure_shreds_them(
    api: RegistryClient,
    registry_db: AsyncEngine,
    stack_settings: ServiceSettings,
    kafka_bootstrap: str,
) -> None:
    marker = f"answer-{uuid.uuid4().hex}"
    c = await api.register("employee")
    cid = c["id"]
    response = await api.http.put(
        f"/v1/contributors/{cid}/self-identification",
        json={"answers": {"gender": marker, "age_band": "30-39"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["self_identification_on_file"] is True
    assert marker not in response.text

    history = await api.history(cid)
    assert marker not in json.dumps(history)
    assert history[-1]["data"]["dimensions"] == ["age_band", "gender"]
    async with registry_db.connect() as conn:
        assert await vault.read(conn, cid) == {"gender": marker, "age_band": "30-39"}
        stored = (
            await conn.execute(
                sa.select(self_identifications.c.ciphertext).where(
                    self_identifications.c.contributor_id == cid
                )
            )
        ).scalar_one()
    assert marker.encode() not in stored

    async def on_kafka() -> bool:
        on_topic = await read_topic(kafka_bootstrap, stack_settings.topics.registry)
        return len([event for _, event in on_topic if event.subject == cid]) >= 2

    await eventually(on_kafka, 30, "the events to reach Kafka")
    for _, event in await read_topic(kafka_bootstrap, stack_settings.topics.registry):
        assert marker not in json.dumps(event.model_dump(mode="json"))

    erased = await api.http.delete(f"/v1/contributors/{cid}/self-identification")
    assert erased.status_code == 200, erased.text
    assert erased.json()["self_identification_on_file"] is False
    async with registry_db.connect() as conn:
        with pytest.raises(vault.KeyDestroyed):
            await vault.read_or_raise(conn, cid)
        assert await vault.read(conn, cid) is None
    history = await api.history(cid)
    assert history[-1]["type"] == "org.workforce.contributor.self_identification_erased.v1"
    assert [h["version"] for h in history] == [1, 2, 3]
    assert marker not in json.dumps(history)


async def test_refusals(api: RegistryClient) -> None:
    firm = await api.register("subcontractor")
    refused = await api.http.put(
        f"/v1/contributors/{firm['id']}/self-identification", json={"answers": {"gender": "x"}}
    )
    assert refused.status_code == 422
    person = await api.register("employee")
    unknown = await api.http.put(
        f"/v1/contributors/{person['id']}/self-identification",
        json={"answers": {"shoe_size": "44"}},
    )
    assert unknown.status_code == 422
    empty = await api.http.put(
        f"/v1/contributors/{person['id']}/self-identification", json={"answers": {}}
    )
    assert empty.status_code == 422
    nothing_to_erase = await api.http.delete(f"/v1/contributors/{person['id']}/self-identification")
    assert nothing_to_erase.status_code == 422
