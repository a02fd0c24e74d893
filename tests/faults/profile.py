"""How hard the fault tests push: `short` (the default, what CI runs) or `long`, chosen with
`WFE_FAULT_PROFILE=long`. Only sizes change between profiles, never what is checked."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultProfile:
    name: str
    api_kills: int
    """SIGKILLs of the registry API while its clients keep writing."""
    api_clients: int
    api_writes_per_client: int
    postgres_outage: float
    """Seconds PostgreSQL stays down while clients keep writing."""
    broker_outage: float
    """Seconds the SIGKILLed broker stays down while appends go on."""
    broker_events_per_second: int
    writes_per_writer: int
    """Each of the 32 writers on one contributor."""
    autocommit_events: int
    oversize_requests: int
    """Requests of each oversize kind sent while the server's memory is watched."""


PROFILES = {
    "short": FaultProfile(
        name="short",
        api_kills=3,
        api_clients=8,
        api_writes_per_client=25,
        postgres_outage=5.0,
        broker_outage=5.0,
        broker_events_per_second=200,
        writes_per_writer=1,
        autocommit_events=2_000,
        oversize_requests=40,
    ),
    "long": FaultProfile(
        name="long",
        api_kills=15,
        api_clients=16,
        api_writes_per_client=150,
        postgres_outage=30.0,
        broker_outage=60.0,
        broker_events_per_second=400,
        writes_per_writer=5,
        autocommit_events=10_000,
        oversize_requests=200,
    ),
}


def current() -> FaultProfile:
    name = os.environ.get("WFE_FAULT_PROFILE", "short")
    if name not in PROFILES:
        raise ValueError(f"WFE_FAULT_PROFILE={name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


PROFILE = current()
