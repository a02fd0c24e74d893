"""What the demo posts: planned registry events, each with its simulated recording time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from services.registry.domain.events_lifecycle import PREFIX

Channel = Literal["cloudevents", "rest"]
BACKDATED = timedelta(days=7)
"""Recorded this long after it took effect: a correction, not ordinary feed latency."""


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One registry event to post. `recorded` is when the posting system learns of it in the
    simulated world: it orders the feed (a back-dated correction arrives weeks late), while
    `effective` is what the registry is told."""

    id: str
    source: str
    verb: str
    subject: str
    data: dict[str, Any]
    effective: datetime
    recorded: datetime
    channel: Channel

    @property
    def type(self) -> str:
        return f"{PREFIX}{self.verb}.v1"

    @property
    def backdated(self) -> bool:
        return self.recorded - self.effective > BACKDATED

    def cloudevent(self) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "datacontenttype": "application/json",
            "effectivetime": self.effective.isoformat(),
            "data": self.data,
        }


def at(day: date, minute: int = 540) -> datetime:
    """An instant on `day` (UTC), `minute` minutes after midnight: 09:00 by default."""
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(minutes=minute)
