"""Contract and engagement events.

Every contract event carries the whole contract as it stands after the event, and every
engagement event the whole engagement, so a consumer can upsert without keeping history.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Self

from pydantic import model_validator

from services.registry.domain.events_lifecycle import PREFIX
from services.registry.domain.values import Identifier, Label, Reference
from shared.catalogue import EventPayload


class ContractFacts(EventPayload):
    contract_id: Identifier
    legal_entity: Label
    start: date
    end: date | None = None
    """None: open-ended."""
    terms_reference: Reference

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError("a contract cannot end before it starts")
        return self


class ContractAdded(ContractFacts):
    TYPE: ClassVar[str] = PREFIX + "contract_added.v1"


class ContractAmended(ContractFacts):
    TYPE: ClassVar[str] = PREFIX + "contract_amended.v1"


class ContractExtended(ContractFacts):
    """`end` is the new end date."""

    TYPE: ClassVar[str] = PREFIX + "contract_extended.v1"

    end: date


class ContractTerminated(ContractFacts):
    """`end` is the termination date; it may lie before the time the event was recorded."""

    TYPE: ClassVar[str] = PREFIX + "contract_terminated.v1"

    end: date


class EngagementFacts(EventPayload):
    engagement_id: Identifier
    business_unit: Label
    project: Label | None = None
    sponsor: Identifier
    contract_id: Identifier | None = None
    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError("an engagement cannot end before it starts")
        return self


class EngagementStarted(EngagementFacts):
    """`end` is the planned end, if one is known."""

    TYPE: ClassVar[str] = PREFIX + "engagement_started.v1"


class EngagementEnded(EngagementFacts):
    """`end` is the day the engagement actually ended."""

    TYPE: ClassVar[str] = PREFIX + "engagement_ended.v1"

    end: date
