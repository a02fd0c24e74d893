"""32 clients write to one contributor over HTTP, each with `If-Match` on the version it
read, reading again and retrying after a 412. Checked against the event store: no update
lost, versions 1..n without holes (I3), each acknowledged write stored exactly once (I2) at
the version its answer named."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.faults.profile import PROFILE
from tests.faults.services import ServiceProcess, registry_events, streams_with_holes

WRITERS = 32


async def test_32_writers_on_one_contributor_lose_no_update(
    registry_service: ServiceProcess,
) -> None:
    api = registry_service
    writes = PROFILE.writes_per_writer
    acknowledged: dict[str, int] = {}
    stale = Counter[int]()
    async with api.client() as http:
        created = await http.post(
            "/v1/contributors",
            json={
                "contributor_type": "employee",
                "display_name": "Contended",
                "owning_function": "hr",
                "sponsor": "sponsor-1",
                "business_unit": "logistics",
            },
        )
        assert created.status_code == 201, created.text
        path = created.headers["location"]

        async def writer(n: int) -> None:
            for w in range(writes):
                key = f"writer-{n}-{w}"
                while True:
                    read = await http.get(path)
                    assert read.status_code == 200, read.text
                    response = await http.patch(
                        path,
                        json={"display_name": f"Writer {n} write {w}"},
                        headers={
                            "If-Match": read.headers["etag"],
                            "Idempotency-Key": key,
                            "X-Correlation-Id": key,
                        },
                    )
                    if response.status_code != 412:
                        break
                    stale[n] += 1
                    assert response.headers["content-type"] == "application/problem+json"
                assert response.status_code == 200, response.text
                acknowledged[key] = _version(response)

        await asyncio.gather(*(writer(n) for n in range(WRITERS)))

    events = await registry_events(api.database_url)
    assert streams_with_holes(events) == {}
    updates = [e for e in events if e.correlation_id in acknowledged]
    assert len(acknowledged) == WRITERS * writes
    stored = Counter(e.correlation_id for e in updates)
    assert stored == Counter(set(acknowledged)), "an acknowledged write lost or doubled"
    assert {e.correlation_id: e.version for e in updates} == acknowledged
    assert len(events) == 1 + WRITERS * writes, "an event no acknowledged write made"
    assert sum(stale.values()) > 0, "the writers never collided: nothing was tested"
    print(
        f"{WRITERS} writers x {writes} writes on one contributor: {len(updates)} stored, "
        f"versions 1..{len(events)}, lost 0, doubled 0, 412 answers {sum(stale.values())}"
    )


def _version(response: httpx.Response) -> int:
    version = response.json()["version"]
    assert isinstance(version, int)
    return version
