"""Naive answers straight from the raw event list, written without the projection code:
replay a contributor's events up to a time, by hand, every time a question is asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.reporting.projections import ProjectedEvent

FOREVER = datetime.max.replace(tzinfo=UTC)
NEXT_STATE = {
    "onboarding_started": "onboarding",
    "activated": "active",
    "suspended": "suspended",
    "reinstated": "active",
    "offboarded": "offboarded",
    "reengaged": "onboarding",
}


def kind(e: ProjectedEvent) -> str:
    return e.type.split(".")[-2]


def streams(events: Iterable[ProjectedEvent]) -> dict[str, list[ProjectedEvent]]:
    """Registry events per contributor, duplicates dropped, in stream order."""
    seen: dict[tuple[str, int], ProjectedEvent] = {}
    for e in events:
        if e.sequence is not None:
            seen.setdefault((e.subject, e.sequence), e)
    by_id: dict[str, list[ProjectedEvent]] = defaultdict(list)
    for (cid, _), e in sorted(seen.items()):
        by_id[cid].append(e)
    return dict(by_id)


def by_effect(stream: list[ProjectedEvent]) -> list[ProjectedEvent]:
    registration = next(e for e in stream if kind(e) == "registered")
    rest = sorted(
        (e for e in stream if e is not registration), key=lambda e: (e.effective_time, e.sequence)
    )
    return [registration, *rest]


def state_at(stream: list[ProjectedEvent], t: datetime) -> dict[str, Any] | None:
    ordered = by_effect(stream)
    if ordered[0].effective_time > t:
        return None
    reg = ordered[0].data
    s: dict[str, Any] = {
        "state": "invited",
        "type": reg["contributor_type"],
        "bu": reg["business_unit"],
        "function": reg["owning_function"],
    }
    for e in ordered[1:]:
        if e.effective_time > t:
            break
        k = kind(e)
        if k in NEXT_STATE:
            s["state"] = NEXT_STATE[k]
        elif k == "type_converted":
            s["type"] = e.data["to_type"]
        elif k == "profile_updated":
            s["bu"] = e.data.get("business_unit", s["bu"])
            s["function"] = e.data.get("owning_function", s["function"])
    return s


def latest_policy(events: Iterable[ProjectedEvent], cid: str, suffix: str) -> dict[str, Any] | None:
    decisions = [e for e in events if e.subject == cid and e.type.endswith(suffix)]
    if not decisions:
        return None
    return dict(max(decisions, key=lambda e: (e.effective_time, e.recorded_time, e.event_id)).data)


def grants(stream: list[ProjectedEvent]) -> list[dict[str, Any]]:
    """Held windows, paired in stream order; a revocation recorded more than five minutes
    after it claims to take effect ends the holding when it was recorded."""
    found: list[dict[str, Any]] = []
    held: dict[str, dict[str, Any]] = {}
    for e in stream:
        if kind(e) == "access_granted":
            held[e.data["grant_id"]] = {**e.data, "from": e.effective_time, "until": None}
            found.append(held[e.data["grant_id"]])
        elif kind(e) == "access_revoked":
            late = e.recorded_time - e.effective_time > timedelta(minutes=5)
            held.pop(e.data["grant_id"])["until"] = e.recorded_time if late else e.effective_time
    return found


def holds(grant: dict[str, Any], t: datetime) -> bool:
    return bool(grant["from"] <= t and (grant["until"] is None or t < grant["until"]))


def final_items(
    stream: list[ProjectedEvent], prefix: str, id_field: str
) -> dict[str, dict[str, Any]]:
    """Contracts or engagements as they stand: the last event per id in order of effect,
    where a termination (or an end) is final."""
    items: dict[str, dict[str, Any]] = {}
    for e in by_effect(stream):
        k = kind(e)
        if not k.startswith(prefix):
            continue
        current = items.get(e.data[id_field])
        if current is not None and current["final"]:
            continue
        final = k in ("contract_terminated", "engagement_ended")
        first_seen = e.effective_time if current is None else current["first_seen"]
        items[e.data[id_field]] = {**e.data, "final": final, "first_seen": first_seen}
    return items


def day_of(iso: str | date) -> date:
    return iso if isinstance(iso, date) else date.fromisoformat(iso)


def midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)
