"""The whole demo as data: every event, SCIM request and duplicate arrival, in the order they
are posted. Pure and deterministic: the same seed (and day) gives the same plan, and the
same seed gives the same ids on any day, so a re-run is recognised as duplicates."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from shared.demo.arrivals import Duplicate, ScimUser, duplicates, scim_users
from shared.demo.life import Life, Person, Window
from shared.demo.lives import live
from shared.demo.people import Names, people
from shared.demo.planned import Channel, PlannedEvent
from shared.demo.story import Story

_NAMESPACE = uuid.UUID("0f6c3e2a-4f55-4b8e-9d65-7a1c0c5b9e21")
SCIM_SHARE = 0.03
DUPLICATE_SHARE = 0.015
REST_EMPLOYEE_SHARE = 0.03


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    window: Window
    people: list[Person]
    events: list[PlannedEvent]
    """Every event for the registry, in the order the simulated feed delivers them."""
    scim_users: list[ScimUser]
    duplicates: list[Duplicate]

    @property
    def cloudevents(self) -> list[PlannedEvent]:
        return [e for e in self.events if e.channel == "cloudevents"]

    def rest_stories(self) -> list[list[PlannedEvent]]:
        """The REST contributors' events, one list per contributor, each in story order."""
        stories: dict[str, list[PlannedEvent]] = {}
        for e in self.events:
            if e.channel == "rest":
                stories.setdefault(e.subject, []).append(e)
        return list(stories.values())

    def contributors_by_type(self) -> Counter[str]:
        """What each contributor was first registered as (conversions come later)."""
        found = Counter(p.profile.name for p in self.people)
        found.update(u.contributor_type for u in self.scim_users)
        return found

    def verbs(self) -> Counter[str]:
        return Counter(e.verb for e in self.events)


def build_plan(seed: int, contributors: int, years: int, today: date) -> DemoPlan:
    """`contributors` in all (SCIM-provisioned ones included) over `years` up to `today`
    (exclusive: nothing takes effect today, so nothing is in the registry's future)."""
    if contributors < 10:
        raise ValueError("a demo needs at least 10 contributors")
    if years < 1:
        raise ValueError("a demo covers at least one year")
    rng = random.Random(seed)
    namespace = uuid.uuid5(_NAMESPACE, f"seed/{seed}")
    window = Window(today - timedelta(days=365 * years), today)
    scim_count = max(1, round(SCIM_SHARE * contributors))
    names = Names()
    persons = people(rng, namespace, contributors - scim_count, window, names)
    sponsors = [p.contributor_id for p in persons if p.profile.name == "employee"]
    rest = {
        p.contributor_id
        for p in persons
        if p.profile.name == "partner"
        or (p.profile.name == "employee" and rng.random() < REST_EMPLOYEE_SHARE)
    }
    events: list[tuple[int, PlannedEvent]] = []
    for p in persons:
        channel: Channel = "rest" if p.contributor_id in rest else "cloudevents"
        story = Story(p.contributor_id, p.profile.name, p.profile.kind, channel, namespace)
        # One generator per contributor: a change to one life leaves every other one alone.
        life_rng = random.Random(f"{seed}/{p.index}")
        live(Life(story, p, life_rng, window, p.profile, sponsors=tuple(sponsors)))
        events.extend((p.index, e) for e in story.events)
    # Stable: one contributor's events keep their story order, whatever their times.
    events.sort(key=lambda pair: (pair[1].recorded, pair[0]))
    return DemoPlan(
        seed=seed,
        window=window,
        people=persons,
        events=[e for _, e in events],
        scim_users=scim_users(rng, namespace, seed, scim_count, sponsors, names),
        duplicates=duplicates(
            rng, namespace, max(2, round(DUPLICATE_SHARE * contributors)), persons
        ),
    )
