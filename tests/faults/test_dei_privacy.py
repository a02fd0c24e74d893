"""Self-identified demographic answers never appear in clear text anywhere but the
encrypted vault: not in the service's log, not in any answer (refusals included), not in
the raw Kafka records (value and headers), not in any row of the registry's schema.

`tests/e2e/test_registry_self_identification.py` checks the events, the decoded
CloudEvents and the ciphertext for one answer, and that erasure shreds the key; this test
reads everything else raw, from the `wfe serve registry` process as deployed. Each answer
is a unique marker, searched as text and as hex (how PostgreSQL prints `bytea`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from services.registry.domain.values import SELF_ID_DIMENSIONS
from shared.db import create_engine
from tests.faults.harness import eventually, read_raw_records
from tests.faults.services import ServiceProcess, registry_events

PEOPLE = 3


async def test_answers_appear_nowhere_in_clear_text(registry_service: ServiceProcess) -> None:
    api = registry_service
    markers: list[str] = []

    def answers() -> dict[str, str]:
        given: dict[str, str] = {d: f"answer-{d}-{uuid.uuid4().hex}" for d in SELF_ID_DIMENSIONS}
        markers.extend(given.values())
        return given

    async with api.client() as http:
        people = [await _register(http, "employee", f"Person {n}") for n in range(PEOPLE)]
        firm = await _register(http, "subcontractor", "A firm")
        for n, person in enumerate(people):
            recorded = await http.put(
                f"/v1/contributors/{person}/self-identification",
                json={"answers": answers()},
                headers={"Idempotency-Key": f"self-id-{n}"},
            )
            assert recorded.status_code == 200, recorded.text
            assert _clean(recorded.text, markers)
        refusals = await _refusals(http, people[0], firm, answers)
        erased = await http.delete(f"/v1/contributors/{people[0]}/self-identification")
        assert erased.status_code == 200, erased.text
    for response in refusals:
        assert 400 <= response.status_code < 500, (refusals.index(response), response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert _clean(response.text, markers), response.text

    events = await registry_events(api.database_url)

    async def all_published() -> bool:
        return len(await read_raw_records(api.bootstrap, api.topic)) >= len(events)

    await eventually(all_published, 60, "every event on the topic")
    records = await read_raw_records(api.bootstrap, api.topic)
    assert any(b"self_identification_recorded" in r for r in records)  # the right records
    assert [r for r in records if not _clean_bytes(r, markers)] == []

    rows = await _every_row(api.database_url)
    assert any("self_identification_erased" in r for r in rows)  # the right schema
    assert [r for r in rows if not _clean(r, markers)] == []

    api.stop()
    log = api.log.read_text()
    assert "self-identification" in log, "the log does not record requests: nothing checked"
    assert _clean(log, markers)
    print(
        f"{len(markers)} distinct answers; clean: {len(refusals)} refusals, {len(records)} "
        f"Kafka records, {len(rows)} rows, {len(log.splitlines())} log lines"
    )


async def _register(http: httpx.AsyncClient, contributor_type: str, name: str) -> str:
    response = await http.post(
        "/v1/contributors",
        json={
            "contributor_type": contributor_type,
            "display_name": name,
            "owning_function": "hr",
            "sponsor": "sponsor-1",
            "business_unit": "logistics",
        },
    )
    assert response.status_code == 201, response.text
    contributor_id = response.json()["id"]
    assert isinstance(contributor_id, str)
    return contributor_id


async def _refusals(
    http: httpx.AsyncClient, person: str, firm: str, answers: Any
) -> list[httpx.Response]:
    """Requests carrying answers that must be refused, each in its own way."""
    path = f"/v1/contributors/{person}/self-identification"
    too_long = {d: v + "x" * 100 for d, v in answers().items()}
    control = {d: v + "\x07" for d, v in answers().items()}
    nul = {d: v + "\x00" for d, v in answers().items()}
    return [
        await http.put(f"/v1/contributors/{firm}/self-identification", json={"answers": answers()}),
        await http.put("/v1/contributors/nobody/self-identification", json={"answers": answers()}),
        await http.put(path, json={"answers": too_long}),
        await http.put(path, json={"answers": control}),
        await http.put(path, json={"answers": nul}),
        await http.put(path, json={"answers": answers(), "note": answers()}),
        await http.put(path, json={"answers": list(answers().values())}),
        await http.put(path, content=json.dumps({"answers": answers()})[:-2].encode()),
        # The same idempotency key as an earlier request, with different answers.
        await http.put(path, json={"answers": answers()}, headers={"Idempotency-Key": "self-id-0"}),
    ]


async def _every_row(database_url: str) -> list[str]:
    engine = create_engine(database_url, schema="registry", pool_size=1)
    try:
        async with engine.connect() as conn:
            tables = await conn.scalars(
                sa.text(
                    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)"
                    " FROM information_schema.tables WHERE table_schema NOT IN"
                    " ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
                )
            )
            rows: list[str] = []
            for table in list(tables):
                result = await conn.scalars(sa.text(f"SELECT t::text FROM {table} t"))
                rows.extend(result)
            return rows
    finally:
        await engine.dispose()


def _clean(text: str, markers: list[str]) -> bool:
    return not any(m in text or m.encode().hex() in text for m in markers)


def _clean_bytes(data: bytes, markers: list[str]) -> bool:
    return not any(m.encode() in data or m.encode().hex().encode() in data for m in markers)
