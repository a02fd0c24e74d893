"""What the benchmarks append: contributor-lifecycle events of realistic shape and size
(~250 bytes of JSON data), to short per-contributor streams that each writer owns.

Payloads are generated up front and cycled, so building them never counts as append time;
each append still gets a fresh event id and serialises its JSON in the timed path.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import cycle
from typing import Any

from shared.eventstore.model import NewEvent

VARIANTS = 512
STREAM_LENGTH = 10
"""Events per contributor stream before a writer moves on to a new contributor."""
_T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_UNITS = ["logistics-emea", "platform-eng", "retail-ops", "finance-shared", "devrel"]
_CHECKS = ["identity", "background", "nda", "security_training", "right_to_work", "tax_form"]
_SYSTEMS = ["hris", "vms", "gig-connector", "idp", "contracts"]
_COUNTRIES = ["DE", "FR", "GB", "US", "IN", "BR", "PL"]


@dataclass(frozen=True, slots=True)
class Payload:
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    effective_time: datetime


def _data(rng: random.Random, kind: int, day: date) -> tuple[str, dict[str, Any]]:
    contributor = str(uuid.UUID(int=rng.getrandbits(128)))
    sponsor = str(uuid.UUID(int=rng.getrandbits(128)))
    unit = rng.choice(_UNITS)
    if kind == 0:
        return "org.workforce.contributor.onboarding_started.v1", {
            "contributor_id": contributor,
            "contributor_type": rng.choice(["contractor", "agency_worker", "gig_worker"]),
            "owning_function": "procurement",
            "sponsor_id": sponsor,
            "business_unit": unit,
            "country": rng.choice(_COUNTRIES),
            "start_date": day.isoformat(),
        }
    if kind == 1:
        return "org.workforce.contributor.compliance_check_recorded.v1", {
            "contributor_id": contributor,
            "engagement_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "check": rng.choice(_CHECKS),
            "outcome": rng.choice(["passed", "passed", "failed", "expired"]),
            "provider": "checkr",
            "requested_by": rng.choice(_SYSTEMS),
            "reference": f"CHK-{rng.randrange(10**9):09d}",
            "valid_until": (day + timedelta(days=365)).isoformat(),
        }
    return "org.workforce.contributor.access_granted.v1", {
        "contributor_id": contributor,
        "system": f"{unit}-warehouse",
        "legal_entity": "Acme Logistics GmbH",
        "classification": rng.choice(["internal", "confidential"]),
        "approved_by": sponsor,
        "expires_on": (day + timedelta(days=90)).isoformat(),
        "ticket": f"ACC-{rng.randrange(10**6):06d}",
    }


def _payload(rng: random.Random) -> Payload:
    day = (_T0 + timedelta(days=rng.randrange(365))).date()
    event_type, data = _data(rng, rng.randrange(3), day)
    metadata = {
        "correlation_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "actor": f"svc:{rng.choice(_SYSTEMS)}",
    }
    return Payload(event_type, data, metadata, datetime.combine(day, _T0.timetz()))


def generate(seed: int = 2) -> list[Payload]:
    rng = random.Random(seed)
    return [_payload(rng) for _ in range(VARIANTS)]


PAYLOADS = generate()


def payload_stream() -> Iterator[Payload]:
    return cycle(PAYLOADS)


class Streams:
    """One writer's streams. Writers never share a stream, so every append states the right
    expected version and none conflicts."""

    def __init__(self, length: int) -> None:
        self._length = length
        self._stream = uuid.uuid4()
        self._version = length

    def claim(self, events: int) -> tuple[uuid.UUID, int]:
        """The stream to append `events` to and the version it is at before them."""
        if self._version + events > self._length:
            self._stream, self._version = uuid.uuid4(), 0
        at = self._version
        self._version += events
        return self._stream, at


def new_event(payload: Payload) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        type=payload.type,
        data=payload.data,
        effective_time=payload.effective_time,
        metadata=payload.metadata,
    )


def serialized(value: dict[str, Any]) -> str:
    """The JSON text a writer sends for a data or metadata column."""
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class SizeReport:
    data_mean: float
    data_min: int
    data_max: int
    metadata_mean: float


def sizes() -> SizeReport:
    data = [len(serialized(p.data).encode()) for p in PAYLOADS]
    metadata = [len(serialized(p.metadata).encode()) for p in PAYLOADS]
    return SizeReport(sum(data) / len(data), min(data), max(data), sum(metadata) / len(metadata))
