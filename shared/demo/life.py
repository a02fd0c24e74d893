"""What every contributor's life is made of: a clock that only moves forward, ids, and the
building blocks of an engagement (checks, contract, engagement, grants)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.registry.domain.values import CLASSIFICATIONS, Classification
from shared.demo.planned import at
from shared.demo.story import Contract, Refused, Story
from shared.demo.vocabulary import (
    ACCESS_SOURCE,
    AGENCIES,
    BUSINESS_UNITS,
    BY_NAME,
    CHECKS_SOURCE,
    CONTRACTS_SOURCE,
    LEGAL_ENTITIES,
    PLATFORMS,
    RESOURCES,
    Profile,
)


@dataclass(frozen=True)
class Window:
    """The simulated history: effective times fall on days in [start, end)."""

    start: date
    end: date


@dataclass(frozen=True)
class Person:
    """Who a contributor is and which twists the planner chose for their life."""

    index: int
    contributor_id: str
    profile: Profile
    display_name: str
    email: str | None
    external_id: str
    business_unit: str
    sponsor: str
    arrival: date
    firm_name: str = ""
    convert_to: str | None = None
    backdated_exit: bool = False
    orphaned_access: bool = False
    lapse_checks: bool = False
    reengage: bool = False


@dataclass
class Life:
    """One contributor's simulation: the story so far, the type's profile (it changes with a
    conversion), the contract and engagement in force, and a clock that never goes back."""

    story: Story
    person: Person
    rng: random.Random
    window: Window
    profile: Profile
    sponsors: tuple[str, ...] = ()
    contract_id: str | None = None
    engagement_id: str | None = None
    _day: date | None = None
    _minute: int = 0
    _serial: dict[str, int] = field(default_factory=dict)

    def when(self, day: date) -> datetime:
        """An instant on `day`, after every earlier one of this life: the events of one day
        keep their order on the effective axis too."""
        if self._day is not None and day <= self._day:
            day = self._day
            self._minute = min(self._minute + self.rng.randint(3, 17), 23 * 60 + 59)
        else:
            self._minute = 480 + self.rng.randint(0, 180)
        if not self.fits(day):
            raise Refused(f"{day} is not in the past: the registry refuses future changes")
        self._day = day
        return at(day, self._minute)

    def advance(self, day: date) -> None:
        """Moves the clock without an event: whatever follows happens on `day` or later."""
        if self._day is None or day > self._day:
            self._day, self._minute = day, 480

    @property
    def today(self) -> date:
        """The day the life has reached."""
        return self._day or self.person.arrival

    def fits(self, day: date) -> bool:
        return day < self.window.end

    def new_id(self, prefix: str) -> str:
        n = self._serial.get(prefix, 0) + 1
        self._serial[prefix] = n
        return f"{prefix}-{self.person.external_id}-{n}"

    # Checks ------------------------------------------------------------------------------

    def record_checks(self, day: date, *, only_missing: bool) -> date:
        """The type's required checks, a few days apart; returns the day the last one passed.
        A few come back pending or failed first, as vendors' results do."""
        for name, validity in self.profile.checks:
            if only_missing and name in self.story.checks:
                held = self.story.checks[name]
                if held is None or held > day + timedelta(days=30):
                    continue
            day += timedelta(days=self.rng.randint(0, 4))
            roll = self.rng.random()
            if roll < 0.09 and self.fits(day):
                outcome = "pending" if roll < 0.06 else "failed"
                self.story.check(name, outcome, None, self.when(day), CHECKS_SOURCE)
                day += timedelta(days=self.rng.randint(2, 9) if roll < 0.06 else 20)
            if not self.fits(day):
                break
            self.pass_check(name, validity, day)
        return day

    def pass_check(self, name: str, validity: int | None, day: date) -> None:
        valid_until = None if validity is None else day + timedelta(days=validity)
        self.story.check(name, "passed", valid_until, self.when(day), CHECKS_SOURCE)

    # Contracts and engagements -----------------------------------------------------------

    def legal_entity(self) -> str:
        match self.profile.name:
            case "agency_worker":
                return f"{self.rng.choice(AGENCIES)} Staffing"
            case "gig_worker":
                return f"{self.rng.choice(PLATFORMS)} Marketplace"
            case "subcontractor":
                return self.person.firm_name
            case "contractor":
                return f"{self.person.display_name} Consulting"
            case _:
                return self.rng.choice(LEGAL_ENTITIES)

    def start_work(self, day: date) -> None:
        """A contract (none for software agents) and an engagement under it, from `day`."""
        months = self.profile.contract_months
        end = None
        if months is not None:
            end = day + timedelta(days=30 * self.rng.randint(*months) - 1)
        self.contract_id = None
        if self.profile.kind != "agent":
            self.contract_id = self.new_id("K")
            terms = f"https://contracts.example.com/{self.contract_id}"
            contract = Contract(self.legal_entity(), day, end, terms)
            self.story.add_contract(self.contract_id, contract, self.when(day), CONTRACTS_SOURCE)
        self.engagement_id = self.new_id("E")
        unit = self.story.profile["business_unit"]
        self.story.start_engagement(
            {
                "engagement_id": self.engagement_id,
                "business_unit": unit,
                "project": self.rng.choice(BUSINESS_UNITS[unit]),
                "sponsor": self.story.profile["sponsor"],
                "contract_id": self.contract_id,
                "start": day,
                "end": end,
            },
            self.when(day),
            self.profile.source,
        )

    def contract_end(self) -> date | None:
        """The planned end of the contract in force, if it has one."""
        if self.contract_id is None or self.story.contracts[self.contract_id].terminated:
            return None
        return self.story.contracts[self.contract_id].end

    # Access ------------------------------------------------------------------------------

    def grant(self, day: date, classification: Classification | None = None) -> None:
        """Mostly within the type's ceiling and maximum duration; now and then above either,
        which is what policy's access-risk findings are about."""
        if classification is not None:
            level = classification
        else:
            level = self.rng.choice(self.profile.classifications)
            if self.rng.random() < 0.04:
                above = min(CLASSIFICATIONS.index(level) + 1, len(CLASSIFICATIONS) - 1)
                level = CLASSIFICATIONS[above]
        when = self.when(day)
        expires_at = None
        if self.profile.grant_days is not None:
            days = self.rng.randint(max(1, self.profile.grant_days // 2), self.profile.grant_days)
            if self.rng.random() < 0.05:
                days *= 3
            expires_at = when + timedelta(days=days)
        elif level == "restricted":
            expires_at = when + timedelta(days=365)
        resource = self.rng.choice(RESOURCES[level])
        self.story.grant(self.new_id("G"), resource, level, expires_at, when, ACCESS_SOURCE)

    def sweep_expired_grants(self, day: date) -> None:
        """The identity governance tool revokes what expired and renews most of it."""
        for grant_id, expires_at in sorted(self.story.grants.items()):
            if expires_at is not None and expires_at.date() <= day:
                self.story.revoke(grant_id, "expired", self.when(day), ACCESS_SOURCE)
                if self.story.lifecycle == "active" and self.rng.random() < 0.7:
                    self.grant(day)

    def switch_profile(self, type_name: str) -> None:
        self.profile = BY_NAME[type_name]
