"""The requests of the registry benchmark, made on the fly from a counter so each one is new:
a registration (unique email and Idempotency-Key, as an HR tool sends it), a structured
CloudEvent, a CloudEvents batch, and the same registration body to the bare reference app.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

from tests.bench.http_client import Call, CallFactory, Endpoint, Response

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REGISTERED = "org.workforce.contributor.registered.v1"
_TYPES = ("contractor", "agency_worker", "gig_worker", "employee", "partner")
_UNITS = ("logistics-emea", "platform-eng", "retail-ops", "finance-shared", "devrel")


def _registration(run: str, n: int) -> dict[str, Any]:
    return {
        "contributor_type": _TYPES[n % len(_TYPES)],
        "display_name": f"Bench Contributor {n}",
        "email": f"bench.{run}.{n}@example.com",
        "owning_function": "procurement",
        "sponsor": f"s-{n % 97}",
        "business_unit": _UNITS[n % len(_UNITS)],
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _one_if(*statuses: int) -> Callable[[Response], int]:
    return lambda response: 1 if response.status in statuses else 0


def registrations(endpoint: Endpoint, path: str = "/v1/contributors") -> CallFactory:
    """`POST /v1/contributors`; 201 stored one event. With `path` of the bare app: the same
    body to an endpoint that only validates it."""
    run, counter = uuid.uuid4().hex[:8], itertools.count()
    stored = _one_if(201)

    def call() -> Call:
        n = next(counter)
        body = _dumps(_registration(run, n))
        key = f"bench-{run}-{n}"
        return Call(
            endpoint.request("POST", path, body, "application/json", {"Idempotency-Key": key}),
            stored,
        )

    return call


def _cloud_event(run: str, n: int) -> dict[str, Any]:
    subject = f"ce-{run}-{n}"
    data = {"contributor_id": subject, **_registration(run, n)}
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/bench/hris",
        "type": REGISTERED,
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def structured_events(endpoint: Endpoint) -> CallFactory:
    """`POST /v1/events`, one structured CloudEvent; 202 stored one event."""
    run, counter = uuid.uuid4().hex[:8], itertools.count()
    stored = _one_if(202)

    def call() -> Call:
        body = _dumps(_cloud_event(run, next(counter)))
        return Call(endpoint.request("POST", "/v1/events", body, STRUCTURED), stored)

    return call


def _accepted(response: Response) -> int:
    if response.status != 200:
        return 0
    return int(json.loads(response.body)["accepted"])


def batches(endpoint: Endpoint, size: int) -> CallFactory:
    """`POST /v1/events` with a batch of `size` CloudEvents; the answer counts the accepted."""
    run, counter = uuid.uuid4().hex[:8], itertools.count()

    def call() -> Call:
        body = _dumps([_cloud_event(run, next(counter)) for _ in range(size)])
        return Call(endpoint.request("POST", "/v1/events", body, BATCH), _accepted)

    return call
