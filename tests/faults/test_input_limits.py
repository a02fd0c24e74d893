"""Oversize input against `wfe serve registry`: every kind is refused with a precise 4xx
problem, and a burst of them does not grow the process (its resident memory, read from
/proc, is a resource invariant with a generous bound, not a timing). Slow clients that
trickle their request byte by byte do not keep other clients from their answers."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx

from tests.faults.profile import PROFILE
from tests.faults.services import ServiceProcess

MB = 1024 * 1024
PROBLEM_JSON = "application/problem+json"
SCIM_JSON = "application/scim+json"
GROWTH_BOUND = 50 * MB
SLOW_CLIENTS = 16
PARALLEL = 4

Send = Callable[[httpx.AsyncClient], Coroutine[Any, Any, httpx.Response]]


async def _chunked(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65536 + 1):
        yield b" " * 65536


def _oversize(contributor: str) -> dict[str, tuple[int, Send]]:
    """What each kind of oversize request is and the status it must get."""
    person = {
        "contributor_type": "employee",
        "owning_function": "hr",
        "sponsor": "sponsor-1",
        "business_unit": "logistics",
    }
    event = {"specversion": "1.0", "id": "x", "source": "/hr", "type": "t"}
    batch = json.dumps([event] * 1001).encode()
    batch_type = {"content-type": "application/cloudevents-batch+json"}
    structured = {"content-type": "application/cloudevents+json"}
    scim = {"content-type": SCIM_JSON}
    nested = b"[" * (3 * MB // 2) + b"]" * (3 * MB // 2)
    return {
        "5 MB body with Content-Length": (
            413,
            lambda h: h.post("/v1/contributors", content=b" " * (5 * MB)),
        ),
        "5 MB chunked body": (413, lambda h: h.post("/v1/contributors", content=_chunked(5 * MB))),
        "batch of 1,001 CloudEvents": (
            413,
            lambda h: h.post("/v1/events", content=batch, headers=batch_type),
        ),
        "3 MB display name": (
            422,
            lambda h: h.post("/v1/contributors", json={**person, "display_name": "n" * 3 * MB}),
        ),
        "3 MB nested JSON": (422, lambda h: h.post("/v1/contributors", content=nested)),
        "3 MB nested JSON CloudEvent": (
            400,
            lambda h: h.post("/v1/events", content=nested, headers=structured),
        ),
        "3 MB nested JSON SCIM user": (
            400,
            lambda h: h.post("/scim/v2/Users", content=nested, headers=scim),
        ),
        "page of 100,000": (422, lambda h: h.get("/v1/contributors", params={"limit": 100_000})),
        "60 KB query string": (
            422,
            lambda h: h.get("/v1/contributors", params={"sponsor": "s" * 60_000}),
        ),
        "60 KB path id": (422, lambda h: h.get(f"/v1/contributors/{contributor}{'x' * 60_000}")),
    }


async def test_oversize_input_is_refused_without_memory_growth(
    registry_service: ServiceProcess,
) -> None:
    api = registry_service
    statuses: dict[str, Counter[int]] = {}
    async with api.client(timeout=60) as http:
        contributor = await _register(http)
        kinds = _oversize(contributor)

        async def burst(rounds: int) -> None:
            for name, (expected, send) in kinds.items():
                for start in range(0, rounds, PARALLEL):
                    answers = await asyncio.gather(
                        *(send(http) for _ in range(min(PARALLEL, rounds - start)))
                    )
                    for answer in answers:
                        statuses.setdefault(name, Counter())[answer.status_code] += 1
                        assert answer.status_code == expected, (name, answer.text[:300])
                        media = SCIM_JSON if name.endswith("SCIM user") else PROBLEM_JSON
                        assert answer.headers["content-type"] == media, name

        await burst(PARALLEL)  # warm up: every code path loaded, pools filled
        before = api.rss_bytes()
        await burst(PROFILE.oversize_requests)
        after = api.rss_bytes()
        assert (await http.get(f"/v1/contributors/{contributor}")).status_code == 200
    growth = after - before
    assert growth < GROWTH_BOUND, f"RSS grew {growth / MB:.1f} MB over the burst"
    print(
        f"{sum(sum(c.values()) for c in statuses.values())} oversize requests "
        f"({len(kinds)} kinds), RSS {before / MB:.0f} -> {after / MB:.0f} MB "
        f"(growth {growth / MB:+.1f} MB); statuses {{"
        + ", ".join(f"{k}: {dict(v)}" for k, v in statuses.items())
        + "}"
    )


async def test_slow_clients_do_not_stall_the_others(registry_service: ServiceProcess) -> None:
    api = registry_service
    stop = asyncio.Event()
    trickled = Counter[str]()

    async def slow_client(n: int) -> None:
        """Trickles a request one byte every 20 ms: half of them from the request line on,
        the other half after sending the headers whole (a slow body)."""
        _, writer = await asyncio.open_connection("127.0.0.1", api.port)
        head = (
            "POST /v1/contributors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: 100000\r\nX-Slow: {n}\r\n\r\n"
        ).encode()
        body = b"{" + b" " * 99_999
        try:
            if n % 2:
                writer.write(head)
                head = b""
            for byte in head + body:
                if stop.is_set():
                    return
                writer.write(bytes([byte]))
                await writer.drain()
                trickled["bytes"] += 1
                await asyncio.sleep(0.02)
        except ConnectionError:
            trickled["closed by the server"] += 1
        finally:
            writer.close()

    async with api.client(timeout=30) as http:
        contributor = await _register(http)
        slow = [asyncio.create_task(slow_client(n)) for n in range(SLOW_CLIENTS)]
        answered = Counter[int]()
        try:
            # Until each slow client is 3 s in and enough was asked meanwhile, on a slow
            # machine too; a server that stopped reading them would end it by the timeout.
            async with asyncio.timeout(60):
                while trickled["bytes"] < SLOW_CLIENTS * 150 or answered.total() < 40:
                    response = await http.get(f"/v1/contributors/{contributor}")
                    answered[response.status_code] += 1
                    write = await http.patch(
                        f"/v1/contributors/{contributor}",
                        json={"display_name": f"Answered {answered.total()}"},
                    )
                    answered[write.status_code] += 1
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*slow)
    assert set(answered) == {200}, answered
    print(
        f"{SLOW_CLIENTS} slow clients trickling {trickled['bytes']} bytes: "
        f"{answered[200]} answers to other requests meanwhile, all 200"
    )


async def _register(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/v1/contributors",
        json={
            "contributor_type": "employee",
            "display_name": "Limits",
            "owning_function": "hr",
            "sponsor": "sponsor-1",
            "business_unit": "logistics",
        },
    )
    assert response.status_code == 201, response.text
    contributor_id = response.json()["id"]
    assert isinstance(contributor_id, str)
    return contributor_id
