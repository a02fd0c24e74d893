"""What a projection reads (`ProjectedEvent`) and writes (`Upsert`, `Delete`).

Registry events arrive with their registry types (`org.workforce.contributor.*`); policy
decisions arrive on their own topic (`org.workforce.policy.*`). Of the policy types only
the two below matter to reporting; any other policy type is ignored, so the policy
service can add decisions without breaking reporting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, field_validator

from services.registry.domain.events import EVENT_CLASSES, RegistryEvent
from services.registry.domain.values import DeiProgram
from shared.envelope import CloudEvent

REGISTRY_PREFIX = "org.workforce.contributor."
POLICY_PREFIX = "org.workforce.policy."

Key = tuple[Any, ...]
_REGISTRY_CLASSES = frozenset(EVENT_CLASSES)


@dataclass(frozen=True, slots=True)
class ProjectedEvent:
    """One event as the projection needs it: the CloudEvent's attributes and its data."""

    event_id: str
    type: str
    subject: str
    sequence: int | None
    """The registry stream version; policy decisions need none."""
    recorded_time: datetime
    effective_time: datetime
    data: Mapping[str, Any] = field(hash=False)
    source: str
    """The posting system (CloudEvents `source`): who claims what, e.g. the owner."""
    payload: RegistryEvent | None = field(default=None, compare=False, repr=False)
    """A registry event's `data` as the registry's catalogue parses it, when the consumer
    has parsed it already (validating is a good part of an event's cost); None: parse it."""

    def __post_init__(self) -> None:
        for name in ("recorded_time", "effective_time"):
            value: datetime = getattr(self, name)
            if value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
            object.__setattr__(self, name, value.astimezone(UTC))

    @classmethod
    def from_cloudevent(cls, event: CloudEvent, payload: object = None) -> ProjectedEvent:
        """`payload`: what the consumer's catalogue parsed the data into, if anything."""
        if event.subject is None or event.time is None:
            raise ValueError("a projected event needs `subject` and `time`")
        return cls(
            event_id=event.id,
            type=event.type,
            subject=event.subject,
            sequence=event.sequence,
            recorded_time=event.time,
            effective_time=event.effectivetime or event.time,
            data=dict(event.data or {}),
            source=event.source,
            # Not `isinstance(payload, RegistryEvent)`: against that union of some twenty
            # pydantic classes it took a microsecond, a fifth of what this whole method does.
            payload=cast(RegistryEvent, payload) if type(payload) in _REGISTRY_CLASSES else None,
        )


ComplianceStatus = Literal["compliant", "pending", "non_compliant", "expired"]
COMPLIANCE_STATUSES: tuple[ComplianceStatus, ...] = (
    "compliant",
    "pending",
    "non_compliant",
    "expired",
)


class _PolicyDecision(BaseModel):
    # The policy service owns these shapes and may add fields; reporting reads what it needs.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]


class ComplianceStatusChanged(_PolicyDecision):
    """The contributor's overall compliance status under the policy for their type."""

    TYPE: ClassVar[str] = POLICY_PREFIX + "compliance_status_changed.v1"

    status: ComplianceStatus


class DeiProgramsExtended(_PolicyDecision):
    """The whole set of DEI programs now extended to the contributor (it replaces the last)."""

    TYPE: ClassVar[str] = POLICY_PREFIX + "dei_programs_extended.v1"

    programs: tuple[DeiProgram, ...]

    @field_validator("programs")
    @classmethod
    def _as_set(cls, value: tuple[DeiProgram, ...]) -> tuple[DeiProgram, ...]:
        return tuple(sorted(set(value)))


PolicyDecision = ComplianceStatusChanged | DeiProgramsExtended
POLICY_DECISIONS: Mapping[str, type[ComplianceStatusChanged] | type[DeiProgramsExtended]] = {
    ComplianceStatusChanged.TYPE: ComplianceStatusChanged,
    DeiProgramsExtended.TYPE: DeiProgramsExtended,
}


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert the row, or replace every value column of the row with this key."""

    table: str
    key: Key
    values: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete the row with this key, if there is one."""

    table: str
    key: Key


RowOp = Upsert | Delete


class ConflictingEvent(ValueError):
    """Two different events claim one place in a contributor's stream: an invariant the
    registry guarantees is broken, so the consumer dead-letters the second one."""
