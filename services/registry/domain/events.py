"""The registry's event catalogue: every event type a contributor stream may hold.

The classes live in themed modules; this module is the one place that registers them, so
`catalogue` is complete as soon as it is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.registry.domain.events_lifecycle import (
    Activated,
    Offboarded,
    OnboardingStarted,
    ProfileUpdated,
    Reengaged,
    Registered,
    Reinstated,
    SourceReferenceLinked,
    Suspended,
    TypeConverted,
)
from services.registry.domain.events_safeguards import (
    AccessGranted,
    AccessRevoked,
    CheckRecorded,
    DeiProgramEnrolled,
    DeiProgramWithdrawn,
    SelfIdentificationErased,
    SelfIdentificationRecorded,
)
from services.registry.domain.events_work import (
    ContractAdded,
    ContractAmended,
    ContractExtended,
    ContractTerminated,
    EngagementEnded,
    EngagementStarted,
)
from shared.catalogue import Catalogue, EventPayload

RegistryEvent = (
    Registered
    | OnboardingStarted
    | Activated
    | Suspended
    | Reinstated
    | Offboarded
    | Reengaged
    | TypeConverted
    | ProfileUpdated
    | SourceReferenceLinked
    | ContractAdded
    | ContractAmended
    | ContractExtended
    | ContractTerminated
    | EngagementStarted
    | EngagementEnded
    | CheckRecorded
    | AccessGranted
    | AccessRevoked
    | DeiProgramEnrolled
    | DeiProgramWithdrawn
    | SelfIdentificationRecorded
    | SelfIdentificationErased
)

EVENT_CLASSES: tuple[type[EventPayload], ...] = (
    Registered,
    OnboardingStarted,
    Activated,
    Suspended,
    Reinstated,
    Offboarded,
    Reengaged,
    TypeConverted,
    ProfileUpdated,
    SourceReferenceLinked,
    ContractAdded,
    ContractAmended,
    ContractExtended,
    ContractTerminated,
    EngagementStarted,
    EngagementEnded,
    CheckRecorded,
    AccessGranted,
    AccessRevoked,
    DeiProgramEnrolled,
    DeiProgramWithdrawn,
    SelfIdentificationRecorded,
    SelfIdentificationErased,
)

catalogue = Catalogue()
for _cls in EVENT_CLASSES:
    catalogue.register(_cls)


def parse(event_type: str, data: Mapping[str, Any]) -> RegistryEvent:
    """`catalogue.parse`, typed for folding (raises what it raises)."""
    return as_registry_event(catalogue.parse(event_type, data))


def as_registry_event(payload: EventPayload) -> RegistryEvent:
    if not isinstance(payload, RegistryEvent):
        raise TypeError(f"{type(payload).__name__} is not a registry event")
    return payload


__all__ = [
    "EVENT_CLASSES",
    "AccessGranted",
    "AccessRevoked",
    "Activated",
    "CheckRecorded",
    "ContractAdded",
    "ContractAmended",
    "ContractExtended",
    "ContractTerminated",
    "DeiProgramEnrolled",
    "DeiProgramWithdrawn",
    "EngagementEnded",
    "EngagementStarted",
    "Offboarded",
    "OnboardingStarted",
    "ProfileUpdated",
    "Reengaged",
    "Registered",
    "RegistryEvent",
    "Reinstated",
    "SelfIdentificationErased",
    "SelfIdentificationRecorded",
    "SourceReferenceLinked",
    "Suspended",
    "TypeConverted",
    "as_registry_event",
    "catalogue",
    "parse",
]
