"""Observability of the real stack: the three services run as `wfe serve` processes (as in a
container) against PostgreSQL and Kafka, on topics of their own. After a flow through registry,
relay, Kafka, policy and reporting: every service's /metrics shows its series moving; the
caller's `traceparent` is on the registry record and on the decision that follows it; the
processes' stderr is JSON lines carrying the correlation id; and self-identification answers
appear in no log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from shared.http.auth import SCOPES, Authenticator
from shared.settings import Topics
from tests.faults.harness import eventually
from tests.servers import SIGNING_KEY, free_port, fresh_postgres_database, fresh_topics

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "policy", "reporting")
PARTITIONS = 3
STARTUP_DEADLINE = 90.0
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
WFE_SERVE = [sys.executable, "-m", "shared.cli.main", "serve"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Service:
    name: str
    base_url: str
    stderr: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = self.stderr.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Stack:
    services: dict[str, Service]
    topics: Topics
    bootstrap: str
    token: str

    def client(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.services[service].base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )


def _start(name: str, env: dict[str, str], folder: Path) -> tuple[subprocess.Popen[bytes], Service]:
    port = free_port()
    stderr = folder / f"{name}.stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [*WFE_SERVE, name, "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return process, Service(name, f"http://127.0.0.1:{port}", stderr)


async def _wait_ready(process: subprocess.Popen[bytes], service: Service) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{service.name} exited: {service.stderr.read_text()}")
            try:
                if (await http.get(f"{service.base_url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"{service.name} not ready in {STARTUP_DEADLINE} s: {service.stderr.read_text()}")


@pytest.fixture(scope="module")
async def stack(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("observability")
    async with (
        fresh_topics(kafka_bootstrap, "obs", PARTITIONS) as topics,
        fresh_postgres_database(postgres_admin_url) as url,
    ):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("WFE_", "OTEL_"))}
        env = {
            **base,
            "PYTHONUNBUFFERED": "1",
            "WFE_DATABASE_URL": url,
            "WFE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "WFE_SIGNING_KEY": SIGNING_KEY,
            "WFE_DATA_DIR": str(folder / "data"),
            "WFE_TOPIC_REGISTRY": topics.registry,
            "WFE_TOPIC_POLICY": topics.policy,
            "WFE_TOPIC_DEADLETTER": topics.deadletter,
        }
        started: list[subprocess.Popen[bytes]] = []
        services: dict[str, Service] = {}
        try:
            # One at a time: each migrates its own schema of the shared database at start.
            for name in SERVICES:
                # DEBUG for the registry: the most it could ever log, for the privacy check.
                extra = {"WFE_LOG_LEVEL": "DEBUG"} if name == "registry" else {}
                process, service = _start(name, {**env, **extra}, folder)
                started.append(process)
                services[name] = service
                await _wait_ready(process, service)
            token = Authenticator(SIGNING_KEY).mint("observer", SCOPES)
            yield Stack(services, topics, kafka_bootstrap, token)
        finally:
            for process in started:
                process.terminate()
            for process in started:
                process.wait(timeout=30)


async def scrape(stack: Stack, service: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{stack.services[service].base_url}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def label_sets(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls), _ in samples.items() if n == name]


async def register(stack: Stack, headers: dict[str, str], channel: str = "rest") -> str:
    """A new contractor, through REST or as a posted CloudEvent."""
    body = {
        "contributor_type": "contractor",
        "display_name": "Ada Observed",
        "owning_function": "procurement",
        "sponsor": "s-17",
        "business_unit": "logistics",
        "email": f"ada-{uuid.uuid4().hex[:12]}@example.com",
    }
    async with stack.client("registry") as http:
        if channel == "rest":
            response = await http.post("/v1/contributors", json=body, headers=headers)
            assert response.status_code == 201, response.text
            contributor_id: str = response.json()["id"]
            return contributor_id
        contributor_id = f"c-{uuid.uuid4().hex[:12]}"
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/hr/observed",
            "type": "org.workforce.contributor.registered.v1",
            "subject": contributor_id,
            "data": {"contributor_id": contributor_id, **body},
        }
        response = await http.post(
            "/v1/events",
            content=json.dumps(event),
            headers={**headers, "content-type": "application/cloudevents+json"},
        )
        assert response.status_code == 202, response.text
        return contributor_id


async def records(stack: Stack, topic: str, key: str) -> list[dict[str, bytes]]:
    """The headers of every record now on `topic` with this key."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        found: list[dict[str, bytes]] = []
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1000)
                found += [dict(r.headers) for r in batch.get(tp, []) if r.key == key.encode()]
        return found
    finally:
        await consumer.stop()


async def publish_poison(stack: Stack) -> None:
    """A record that is no CloudEvent: every consumer of the topic dead-letters it."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(stack.topics.registry, b"not an event", key=b"poison")
    finally:
        await producer.stop()


async def test_metrics_of_every_service_move_through_a_flow(stack: Stack) -> None:
    before = {service: await scrape(stack, service) for service in SERVICES}
    contributor = await register(stack, {"X-Correlation-Id": f"metrics-{uuid.uuid4()}"})
    await publish_poison(stack)

    async def everything_arrived() -> bool:
        # Each consumer's counters move after its commit, and the relay's after the send: the
        # decision on the topic, or a dead letter, may be seen a moment before.
        now = {service: await scrape(stack, service) for service in ("policy", "reporting")}
        counted = [
            (s, "wfe_consumer_events_total", {"outcome": outcome})
            for s in now
            for outcome in ("dead_letter", "processed")
        ] + [("policy", "wfe_relay_published_total", {"service": "policy"})]
        return all(
            value(now[s], metric, **labels) > value(before[s], metric, **labels)
            for s, metric, labels in counted
        ) and bool(await records(stack, stack.topics.policy, contributor))

    await eventually(everything_arrived, 60, "the decision, both dead letters, their counts")
    after = {service: await scrape(stack, service) for service in SERVICES}

    def moved(process: str, metric: str, **labels: str) -> float:
        return value(after[process], metric, **labels) - value(before[process], metric, **labels)

    registry_request = {"method": "POST", "route": "/v1/contributors", "status": "201"}
    assert moved("registry", "wfe_http_request_duration_seconds_count", **registry_request) > 0
    assert moved("registry", "wfe_events_appended_total", service="registry") > 0
    assert moved("registry", "wfe_relay_published_total", service="registry") > 0
    assert moved("registry", "wfe_relay_lag_seconds_count", service="registry") > 0
    assert moved("policy", "wfe_events_appended_total", service="policy") > 0
    decisions = [
        labels["type"]
        for labels in label_sets(after["policy"], "wfe_relay_published_total")
        if labels["service"] == "policy"
        and moved("policy", "wfe_relay_published_total", **labels) > 0
    ]
    assert decisions
    assert all(t.startswith("org.workforce.policy.") for t in decisions), decisions
    assert moved("policy", "wfe_relay_lag_seconds_count", service="policy") > 0
    for service in ("policy", "reporting"):
        assert moved(service, "wfe_consumer_events_total", outcome="processed") > 0
        assert moved(service, "wfe_consumer_events_total", outcome="dead_letter") > 0
        lag = [
            labels
            for labels in label_sets(after[service], "wfe_consumer_lag_events")
            if labels["topic"] == stack.topics.registry
        ]
        assert sorted(int(labels["partition"]) for labels in lag) == list(range(PARTITIONS))
    for service in ("registry", "policy"):
        assert ("wfe_outbox_backlog", frozenset({("service", service)})) in after[service]


def _trace_id(traceparent: bytes) -> str:
    return traceparent.decode().split("-")[1]


@pytest.mark.parametrize("channel", ["rest", "cloudevents"])
async def test_the_callers_trace_reaches_the_registry_record_and_the_decision(
    stack: Stack, channel: str
) -> None:
    correlation = f"trace-{uuid.uuid4()}"
    headers = {"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01", "X-Correlation-Id": correlation}
    contributor = await register(stack, headers, channel)

    async def published() -> bool:
        return bool(await records(stack, stack.topics.registry, contributor))

    await eventually(published, 30, "the relay publishing the registration")
    registered = await records(stack, stack.topics.registry, contributor)
    assert len(registered) == 1
    assert _trace_id(registered[0]["traceparent"]) == TRACE_ID
    assert registered[0]["ce_correlationid"] == correlation.encode()

    async def decided() -> bool:
        return bool(await records(stack, stack.topics.policy, contributor))

    await eventually(decided, 60, "policy's decisions on the new contractor")
    decisions = await records(stack, stack.topics.policy, contributor)
    assert {_trace_id(d["traceparent"]) for d in decisions} == {TRACE_ID}
    assert {d["ce_correlationid"] for d in decisions} == {correlation.encode()}
    # The decision is a descendant of, not the same span as, the record it follows.
    assert decisions[0]["traceparent"] != registered[0]["traceparent"]


def _lines_with(service: Service, correlation: str) -> list[dict[str, Any]]:
    return [line for line in service.log_lines() if line.get("correlation_id") == correlation]


async def test_logs_are_json_lines_carrying_the_correlation_id(stack: Stack) -> None:
    correlation = f"logs-{uuid.uuid4()}"
    headers = {"traceparent": f"00-{TRACE_ID}-c7ad6b7169203331-01", "X-Correlation-Id": correlation}
    await register(stack, headers)
    registry = stack.services["registry"]

    async def logged() -> bool:
        return bool(_lines_with(registry, correlation))

    await eventually(logged, 30, "the registry's access line for the request")
    [access] = _lines_with(registry, correlation)
    assert access["logger"] == "wfe.access"
    assert access["message"].startswith("POST /v1/contributors 201 ")
    assert access["service"] == "registry"
    assert access["trace_id"] == TRACE_ID
    assert len(access["span_id"]) == 16
    for service in stack.services.values():
        lines = service.log_lines()  # raises if any line is not JSON
        assert lines, f"{service.name} logged nothing"
        for line in lines:
            assert {"time", "level", "logger", "message", "service"} <= line.keys(), line
            assert line["service"] == service.name


async def test_self_identification_answers_appear_in_no_log(stack: Stack) -> None:
    contributor = await register(stack, {})
    marker = f"answer-{uuid.uuid4().hex}"
    correlations = [f"selfid-{uuid.uuid4()}" for _ in range(3)]
    async with stack.client("registry") as http:
        path = f"/v1/contributors/{contributor}/self-identification"
        recorded = await http.put(
            path,
            json={"answers": {"gender": marker}},
            headers={"X-Correlation-Id": correlations[0]},
        )
        assert recorded.status_code == 200, recorded.text
        refused = await http.put(
            path,
            json={"answers": {"shoe_size": marker}},
            headers={"X-Correlation-Id": correlations[1]},
        )
        assert refused.status_code == 422
        too_long = await http.put(
            path,
            json={"answers": {"gender": marker * 10}},
            headers={"X-Correlation-Id": correlations[2]},
        )
        assert too_long.status_code == 422

    async def all_logged() -> bool:
        return all(_lines_with(stack.services["registry"], c) for c in correlations)

    await eventually(all_logged, 30, "the registry's lines for the three requests")
    for service in stack.services.values():
        assert marker not in service.stderr.read_text(), service.name
