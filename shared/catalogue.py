"""The event catalogue: one frozen Pydantic model per event type, registered by type name.

Evolution: optional fields may be added to a type freely; any other change is a new
`.vN` type plus an upcaster from the old one, so stored history is never edited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class EventPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]


class UnknownEventType(LookupError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class InvalidEventData(ValueError):
    def __init__(self, event_type: str, error: ValidationError) -> None:
        super().__init__(f"invalid data for {event_type}: {error.error_count()} error(s)")
        self.event_type = event_type
        self.errors = error.errors(include_url=False, include_input=False)


P = TypeVar("P", bound=type[EventPayload])
Upcaster = Callable[[Mapping[str, Any]], dict[str, Any]]


class Catalogue:
    def __init__(self) -> None:
        self._types: dict[str, type[EventPayload]] = {}
        self._upcasters: dict[str, tuple[str, Upcaster]] = {}

    def register(self, cls: P) -> P:
        if cls.TYPE in self._types:
            raise ValueError(f"event type {cls.TYPE} registered twice")
        self._types[cls.TYPE] = cls
        return cls

    def register_upcaster(self, old_type: str, new_type: str, upcast: Upcaster) -> None:
        self._upcasters[old_type] = (new_type, upcast)

    def __iter__(self) -> Iterator[type[EventPayload]]:
        return iter(self._types.values())

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._types or event_type in self._upcasters

    def parse(self, event_type: str, data: Mapping[str, Any]) -> EventPayload:
        """The payload as its current type, upcasting older versions on the way."""
        current: dict[str, Any] = dict(data)
        while event_type in self._upcasters:
            event_type, upcast = self._upcasters[event_type]
            current = upcast(current)
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventType(event_type)
        try:
            return cls.model_validate(current)
        except ValidationError as exc:
            raise InvalidEventData(event_type, exc) from exc
