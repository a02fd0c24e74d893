"""Shared builders for the registry domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.registry.domain.commands import Register, RegistryCommand
from services.registry.domain.contributor import apply
from services.registry.domain.decide import Decision, decide
from services.registry.domain.events import RegistryEvent
from services.registry.domain.state import Contributor
from services.registry.domain.types import DEFAULT_CONTRIBUTOR_TYPES, ContributorTypes

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CID = "c-1"
TYPES = DEFAULT_CONTRIBUTOR_TYPES


def register(**overrides: Any) -> Register:
    fields: dict[str, Any] = {
        "contributor_id": CID,
        "contributor_type": "contractor",
        "display_name": "Ada Example",
        "email": "ada@example.com",
        "owning_function": "procurement",
        "sponsor": "emp-42",
        "business_unit": "Logistics",
    }
    return Register.model_validate(fields | overrides)


def decisions(
    state: Contributor | None,
    command: RegistryCommand,
    *,
    now: datetime = NOW,
    types: ContributorTypes = TYPES,
) -> list[Decision]:
    return decide(state, command, now=now, types=types)


def events(
    state: Contributor | None, command: RegistryCommand, *, now: datetime = NOW
) -> list[RegistryEvent]:
    return [d.event for d in decisions(state, command, now=now)]


def run(state: Contributor | None, *commands: RegistryCommand, now: datetime = NOW) -> Contributor:
    """The state after deciding and applying each command in turn (all must be accepted)."""
    for command in commands:
        for event in events(state, command, now=now):
            state = apply(state, event)
    assert state is not None
    return state


def given(*commands: RegistryCommand) -> Contributor:
    return run(None, register(), *commands)
