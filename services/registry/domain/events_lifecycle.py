"""Lifecycle, identity and profile events of a contributor.

The contributor id is the stream (CloudEvents `subject`); only `registered` repeats it so
the first event of a stream is self-describing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import SerializerFunctionWrapHandler, model_serializer, model_validator

from services.registry.domain.values import (
    EmailAddress,
    ExternalId,
    Identifier,
    Label,
    OffboardingReason,
    OwningFunction,
    SourceReference,
    SuspensionReason,
    SystemName,
    TypeName,
)
from shared.catalogue import EventPayload

PREFIX = "org.workforce.contributor."


class Registered(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "registered.v1"

    contributor_id: Identifier
    contributor_type: TypeName
    display_name: Label
    email: EmailAddress | None = None
    owning_function: OwningFunction
    sponsor: Identifier
    business_unit: Label
    source_references: tuple[SourceReference, ...] = ()
    initial_state: Literal["invited"] = "invited"

    @model_validator(mode="after")
    def _unique_references(self) -> Self:
        if len(set(self.source_references)) != len(self.source_references):
            raise ValueError("source_references must be unique")
        return self


class OnboardingStarted(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "onboarding_started.v1"


class Activated(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "activated.v1"


class Suspended(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "suspended.v1"

    reason: SuspensionReason


class Reinstated(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "reinstated.v1"


class Offboarded(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "offboarded.v1"

    reason: OffboardingReason


class Reengaged(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "reengaged.v1"


class TypeConverted(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "type_converted.v1"

    from_type: TypeName
    to_type: TypeName

    @model_validator(mode="after")
    def _changes_type(self) -> Self:
        if self.from_type == self.to_type:
            raise ValueError("to_type must differ from from_type")
        return self


class ProfileUpdated(EventPayload):
    """Only the fields that changed are present; profile fields are replaced, never cleared."""

    TYPE: ClassVar[str] = PREFIX + "profile_updated.v1"

    display_name: Label | None = None
    email: EmailAddress | None = None
    owning_function: OwningFunction | None = None
    sponsor: Identifier | None = None
    business_unit: Label | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a profile update changes at least one field")
        return self

    @model_serializer(mode="wrap")
    def _changed_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # However the store dumps it, the stored form holds only the changed fields.
        data: dict[str, Any] = handler(self)
        return {name: value for name, value in data.items() if value is not None}


class SourceReferenceLinked(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "source_reference_linked.v1"

    system: SystemName
    external_id: ExternalId
