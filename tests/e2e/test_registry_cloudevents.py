"""CloudEvents ingestion for internal systems, and the events the registry publishes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.settings import ServiceSettings
from tests.e2e.registry_client import PROBLEM, new_id
from tests.e2e.test_registry_rest import ALL_TYPES
from tests.faults.harness import eventually, read_topic
from tests.servers import RunningApp

PREFIX = "org.workforce.contributor."
STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def cloud_event(
    verb: str, subject: str, data: dict[str, Any] | None = None, source: str = "/hris", **extra: Any
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": f"{PREFIX}{verb}.v1",
        "subject": subject,
        "data": data or {},
        **extra,
    }


def registered(subject: str, contributor_type: str = "contractor") -> dict[str, Any]:
    return cloud_event(
        "registered",
        subject,
        {
            "contributor_id": subject,
            "contributor_type": contributor_type,
            "display_name": "Ann",
            "owning_function": "procurement",
            "sponsor": "s-1",
            "business_unit": "logistics",
        },
    )


@pytest.fixture
async def http(backend_registry: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    async with backend_registry.client() as client:
        yield client


async def post_batch(http: httpx.AsyncClient, events: list[Any]) -> dict[str, Any]:
    response = await http.post("/v1/events", json=events, headers=BATCH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_structured_event_is_stored_once_however_often_it_is_posted(
    http: httpx.AsyncClient,
) -> None:
    cid = new_id("c")
    event = registered(cid)
    first = await http.post("/v1/events", json=event, headers=STRUCTURED)
    again = await http.post("/v1/events", json=event, headers=STRUCTURED)
    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert again.json()["contributor_id"] == cid
    history = (await http.get(f"/v1/contributors/{cid}/history")).json()
    assert len(history) == 1
    assert history[0]["event_id"] != event["id"]  # stored under an id derived from source + id


async def test_binary_mode(http: httpx.AsyncClient) -> None:
    cid = new_id("c")
    event = registered(cid)
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k != "data"}
    response = await http.post(
        "/v1/events", json=event["data"], headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    assert (await http.get(f"/v1/contributors/{cid}")).json()["display_name"] == "Ann"


async def test_a_bad_event_in_a_batch_never_loses_the_good_ones(http: httpx.AsyncClient) -> None:
    cid, other = new_id("c"), new_id("c")
    batch: list[Any] = [
        registered(cid),
        cloud_event("onboarding_started", cid),
        cloud_event("activated", other),  # no such contributor
        cloud_event("suspended", cid, {"reason": "not-a-reason"}),  # invalid data
        cloud_event("teleported", cid),  # unknown type
        {"specversion": "1.0", "id": "x"},  # not a valid CloudEvent
        "not even an object",
        cloud_event("registered", cid, registered(cid)["data"]),  # already registered
        cloud_event("activated", cid),
        cloud_event("self_identification_erased", cid, {"key_reference": "k"}),
    ]
    result = await post_batch(http, batch)
    statuses = [r["status"] for r in result["results"]]
    assert statuses == [
        "accepted",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
    ]
    problems = [r["problem"]["type"] for r in result["results"] if r["problem"]]
    assert problems == [
        "/problems/contributor-not-found",
        "/problems/validation-failed",
        "/problems/unknown-event-type",
        "/problems/validation-failed",
        "/problems/validation-failed",
        "/problems/already-registered",
        "/problems/not-ingestible",
    ]
    assert (result["accepted"], result["rejected"]) == (3, 7)
    contributor = (await http.get(f"/v1/contributors/{cid}")).json()
    assert (contributor["lifecycle"], contributor["version"]) == ("active", 3)
    repeated = await post_batch(http, batch[:2])
    assert [r["status"] for r in repeated["results"]] == ["duplicate", "duplicate"]


async def test_batch_limits_and_media_types(http: httpx.AsyncClient) -> None:
    too_many = [registered(new_id("c")) for _ in range(1001)]
    response = await http.post("/v1/events", json=too_many, headers=BATCH)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert (await http.post("/v1/events", content=b"[", headers=BATCH)).status_code == 400
    assert (
        await http.post("/v1/events", content=b"{}", headers={"content-type": "text/plain"})
    ).status_code == 415
    single_bad = await http.post(
        "/v1/events", json=cloud_event("activated", new_id()), headers=STRUCTURED
    )
    assert single_bad.status_code == 404
    assert single_bad.headers["content-type"] == PROBLEM


def lifecycle_events(cid: str, contributor_type: str) -> list[dict[str, Any]]:
    today = date.today()
    contract = {
        "contract_id": "k-1",
        "legal_entity": "ACME",
        "start": str(today),
        "end": str(today + timedelta(days=30)),
        "terms_reference": "msa",
    }
    engagement = {
        "engagement_id": "e-1",
        "business_unit": "ops",
        "sponsor": "s-1",
        "start": str(today),
        "contract_id": "k-1",
    }
    back_dated = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    return [
        registered(cid, contributor_type),
        cloud_event("onboarding_started", cid),
        cloud_event("check_recorded", cid, {"check": "nda", "outcome": "passed"}),
        cloud_event("contract_added", cid, contract),
        cloud_event("engagement_started", cid, engagement),
        cloud_event("activated", cid),
        cloud_event(
            "access_granted",
            cid,
            {"grant_id": "g-1", "resource": "erp", "classification": "internal"},
        ),
        cloud_event("contract_extended", cid, {**contract, "end": str(today + timedelta(days=60))}),
        cloud_event("suspended", cid, {"reason": "investigation"}),
        cloud_event("reinstated", cid),
        cloud_event("offboarded", cid, {"reason": "contract_ended"}, effectivetime=back_dated),
        cloud_event("reengaged", cid),
    ]


@pytest.mark.parametrize("contributor_type", ALL_TYPES)
async def test_full_lifecycle_of_every_type_through_cloudevents(
    http: httpx.AsyncClient, contributor_type: str
) -> None:
    cid = new_id("c")
    result = await post_batch(http, lifecycle_events(cid, contributor_type))
    assert result["rejected"] == 0, result["results"]
    contributor = (await http.get(f"/v1/contributors/{cid}")).json()
    assert contributor["lifecycle"] == "onboarding"
    assert contributor["contracts"][0]["end"] == str(date.today() + timedelta(days=60))
    history = (await http.get(f"/v1/contributors/{cid}/history")).json()
    verbs = [h["type"].removeprefix(PREFIX).split(".")[0] for h in history]
    assert verbs[-4:] == ["access_revoked", "engagement_ended", "offboarded", "reengaged"]
    assert [h["version"] for h in history] == list(range(1, len(history) + 1))


async def test_events_reach_kafka_in_per_contributor_order_with_cloudevents_headers(
    registry: RunningApp, stack_settings: ServiceSettings, kafka_bootstrap: str
) -> None:
    # The real stack's registry only: this reads the Kafka topic, which the embedded mode
    # replaces with its in-process log (whose ordering the transport contract suite covers).
    topic = stack_settings.topics.registry
    contributors = [new_id("c") for _ in range(5)]
    async with registry.client() as http:
        for cid in contributors:
            assert (await post_batch(http, lifecycle_events(cid, "contractor")))["rejected"] == 0
        expected = {
            cid: len((await http.get(f"/v1/contributors/{cid}/history")).json())
            for cid in contributors
        }

    async def published() -> bool:
        on_topic = await read_topic(kafka_bootstrap, topic)
        return sum(e.subject in expected for _, e in on_topic) >= sum(expected.values())

    await eventually(published, 30, "the relay to publish")
    sequences: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for partition, event in await read_topic(kafka_bootstrap, topic):
        if event.subject in expected:
            assert event.partitionkey == event.subject
            assert event.type.startswith(PREFIX)
            assert event.source == "/hris"
            assert event.effectivetime is not None
            assert event.sequence is not None
            sequences[event.subject].append(event.sequence)
            partitions[event.subject].add(partition)
    for cid, count in expected.items():
        assert sequences[cid] == list(range(1, count + 1))
        assert len(partitions[cid]) == 1
