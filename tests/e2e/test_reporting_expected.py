"""What the reports should say, computed here from the registry's event histories (as
fetched over HTTP) and the decisions the test published, without the projection code:
fold each history by hand up to the instant asked about (no tests here)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared.envelope import CloudEvent

PREFIX = "org.workforce.contributor."
DAY = timedelta(days=1)
NEXT_STATE = {
    "onboarding_started": "onboarding",
    "activated": "active",
    "suspended": "suspended",
    "reinstated": "active",
    "offboarded": "offboarded",
    "reengaged": "onboarding",
}


@dataclass(frozen=True)
class Ev:
    kind: str
    version: int
    eff: datetime
    rec: datetime
    data: Mapping[str, Any]


def events(history: Iterable[Mapping[str, Any]]) -> list[Ev]:
    return [
        Ev(
            h["type"].removeprefix(PREFIX).rsplit(".", 1)[0],
            h["version"],
            datetime.fromisoformat(h["effective_time"]).astimezone(UTC),
            datetime.fromisoformat(h["recorded_time"]).astimezone(UTC),
            h["data"],
        )
        for h in sorted(history, key=lambda h: h["version"])
    ]


def by_effect(evs: list[Ev]) -> list[Ev]:
    return [evs[0], *sorted(evs[1:], key=lambda e: (e.eff, e.version))]


def walk(evs: list[Ev]) -> Iterable[tuple[Ev, dict[str, Any]]]:
    """Each event in order of effect, with the contributor's state right after it."""
    reg = evs[0].data
    s: dict[str, Any] = {
        "contributor_type": reg["contributor_type"],
        "lifecycle_state": "invited",
        "business_unit": reg["business_unit"],
        "owning_function": reg["owning_function"],
        "contracts": {},
        "checks": {},
        "programs": set(),
    }
    for e in by_effect(evs):
        d = e.data
        if e.kind in NEXT_STATE:
            s["lifecycle_state"] = NEXT_STATE[e.kind]
        elif e.kind == "type_converted":
            s["contributor_type"] = d["to_type"]
        elif e.kind == "profile_updated":
            for name in ("business_unit", "owning_function"):
                s[name] = d.get(name) or s[name]
        elif e.kind.startswith("contract_"):
            s["contracts"][d["contract_id"]] = {**s["contracts"].get(d["contract_id"], {}), **d}
        elif e.kind == "check_recorded":
            s["checks"][d["check"]] = d
        elif e.kind == "dei_program_enrolled":
            s["programs"].add(d["program"])
        elif e.kind == "dei_program_withdrawn":
            s["programs"].discard(d["program"])
        yield e, s


def state_at(evs: list[Ev], t: datetime) -> dict[str, Any] | None:
    if evs[0].eff > t:
        return None
    found: dict[str, Any] = {}
    for e, s in walk(evs):
        if e.eff > t:
            break
        found = dict(s)
    return found


def now_state(evs: list[Ev]) -> dict[str, Any]:
    final: dict[str, Any] = {}
    for _, s in walk(evs):
        final = s
    return final


def current(streams: Mapping[str, list[Ev]]) -> dict[str, dict[str, Any]]:
    """Registered and not offboarded now."""
    states = {cid: now_state(evs) for cid, evs in streams.items()}
    return {cid: s for cid, s in states.items() if s["lifecycle_state"] != "offboarded"}


def composition(streams: Mapping[str, list[Ev]], t: datetime) -> Counter[tuple[str, ...]]:
    keys = ("contributor_type", "lifecycle_state", "business_unit", "owning_function")
    found: Counter[tuple[str, ...]] = Counter()
    for evs in streams.values():
        s = state_at(evs, t)
        if s is not None:
            found[tuple(s[k] for k in keys)] += 1
    return found


def end_of_day(day: date) -> datetime:
    return datetime.combine(day + DAY, time(0), tzinfo=UTC) - timedelta(microseconds=1)


def nearest_rank(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def time_to_onboard(
    streams: Mapping[str, list[Ev]], since: datetime, until: datetime
) -> dict[str, tuple[int, float, float]]:
    durations: dict[str, list[float]] = defaultdict(list)
    for evs in streams.values():
        started: datetime | None = None
        for e, s in walk(evs):
            if e.kind in ("onboarding_started", "reengaged"):
                started = e.eff
            elif e.kind in NEXT_STATE and started is not None:
                if e.kind == "activated" and since <= e.eff < until:
                    durations[s["contributor_type"]].append((e.eff - started) / DAY)
                started = None
    return {t: (len(d), nearest_rank(d, 50), nearest_rank(d, 90)) for t, d in durations.items()}


def contracts_ending(
    streams: Mapping[str, list[Ev]], on: date, horizons: list[int]
) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """Per (current type, horizon): (contributor, contract) whose last day is within it; only
    types with a contract ending within the longest horizon appear (the API reads those)."""
    ending: list[tuple[str, str, str, date]] = []
    for cid, evs in streams.items():
        s = now_state(evs)
        for contract_id, c in s["contracts"].items():
            if c.get("end"):
                ending.append(
                    (s["contributor_type"], cid, contract_id, date.fromisoformat(c["end"]))
                )
    types = {t for t, _, _, end in ending if on <= end <= on + max(horizons) * DAY}
    return {
        (t, h): sorted(
            (cid, k) for u, cid, k, end in ending if u == t and on <= end <= on + h * DAY
        )
        for t in types
        for h in horizons
    }


def engagement_flow(
    streams: Mapping[str, list[Ev]], first: date, last: date
) -> Counter[tuple[str, str, str]]:
    """(month, type when it started, started|ended) -> engagements."""
    flow: Counter[tuple[str, str, str]] = Counter()
    for evs in streams.values():
        started_as: dict[str, tuple[str, date]] = {}
        ended: dict[str, date] = {}
        for e, s in walk(evs):
            if e.kind == "engagement_started":
                started_as[e.data["engagement_id"]] = (
                    s["contributor_type"],
                    date.fromisoformat(e.data["start"]),
                )
            elif e.kind == "engagement_ended":
                ended[e.data["engagement_id"]] = date.fromisoformat(e.data["end"])
        for eid, (kind, start) in started_as.items():
            if first <= start <= last:
                flow[start.strftime("%Y-%m"), kind, "started"] += 1
            if eid in ended and first <= ended[eid] <= last:
                flow[ended[eid].strftime("%Y-%m"), kind, "ended"] += 1
    return flow


def latest_statuses(decisions: Iterable[CloudEvent]) -> dict[str, str]:
    """The compliance status each contributor's newest (in effect) valid decision states."""
    chosen: dict[str, tuple[tuple[datetime, datetime, str], str]] = {}
    for d in decisions:
        status = str((d.data or {}).get("status"))
        if not d.type.endswith("compliance_status_changed.v1") or status == "bogus":
            continue
        if d.subject is None or d.time is None or d.effectivetime is None:
            raise ValueError(f"decision {d.id} lacks subject or times")
        order = (d.effectivetime, d.time, d.id)
        if d.subject not in chosen or chosen[d.subject][0] < order:
            chosen[d.subject] = (order, status)
    return {cid: status for cid, (_, status) in chosen.items()}


def extended_programs(decisions: Iterable[CloudEvent]) -> dict[str, set[str]]:
    return {
        d.subject: set((d.data or {})["programs"])
        for d in decisions
        if d.subject is not None and d.type.endswith("dei_programs_extended.v1")
    }


@dataclass(frozen=True)
class Window:
    cid: str
    grant_id: str
    classification: str
    expires_at: str | None
    start: datetime
    until: datetime | None

    def holds(self, t: datetime) -> bool:
        return self.start <= t and (self.until is None or t < self.until)


def windows(cid: str, evs: list[Ev]) -> list[Window]:
    """In stream order; a revocation recorded more than five minutes after it says it took
    effect ends the holding when it was recorded."""
    found: dict[str, Window] = {}
    done: list[Window] = []
    for e in evs:
        if e.kind == "access_granted":
            d = e.data
            found[d["grant_id"]] = Window(
                cid, d["grant_id"], d["classification"], d.get("expires_at"), e.eff, None
            )
        elif e.kind == "access_revoked":
            w = found.pop(e.data["grant_id"])
            late = e.rec - e.eff > timedelta(minutes=5)
            done.append(Window(**{**w.__dict__, "until": e.rec if late else e.eff}))
    return done + list(found.values())


def exposures(cid: str, evs: list[Ev], at: datetime) -> list[tuple[str, str, str, float]]:
    """(contributor, grant, kind, days up to `at`) for every exposure begun by `at`."""
    offboarded: list[tuple[datetime, datetime | None]] = []
    for e, s in walk(evs):
        if s["lifecycle_state"] == "offboarded" and (not offboarded or offboarded[-1][1]):
            offboarded.append((e.eff, None))
        elif s["lifecycle_state"] != "offboarded" and offboarded and offboarded[-1][1] is None:
            offboarded[-1] = (offboarded[-1][0], e.eff)
    gaps: list[tuple[datetime, datetime | None]] = []
    spans = sorted(
        (midnight(c["start"]), midnight(c["end"]) + DAY if c.get("end") else None)
        for c in now_state(evs)["contracts"].values()
    )
    if spans and all(end is not None for _, end in spans):
        last = max(end for _, end in spans if end is not None)
        gaps.append((last, None))  # the script's contributors have one contract each
    found = []
    for w in windows(cid, evs):
        for kind, stretches in (("after_offboarding", offboarded), ("after_contract_end", gaps)):
            for start, end in stretches:
                begin = max(start, w.start)
                ends = [x for x in (end, w.until) if x is not None]
                stop = min(ends) if ends else None
                if (stop is None or begin < stop) and begin < at:
                    found.append(
                        (cid, w.grant_id, kind, round((min(stop or at, at) - begin) / DAY, 6))
                    )
    return sorted(found)


def midnight(day: str | date) -> datetime:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(d, time(0), tzinfo=UTC)
