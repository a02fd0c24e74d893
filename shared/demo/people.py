"""Who the demo's contributors are: how many of each type, their names, addresses, business
units and sponsors, when they arrive, and which twists their lives take."""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from shared.demo.life import Person, Window
from shared.demo.vocabulary import (
    AGENT_ROLES,
    BUSINESS_UNITS,
    FAMILY,
    FIRM_TRADES,
    FIRM_WORDS,
    GIVEN,
    PROFILES,
    Profile,
)

PREFIXES = {
    "workday": "W",
    "fieldglass": "FG",
    "gigconnect": "GIG",
    "prm": "PRM",
    "devportal": "DEV",
    "servicenow": "CI",
}
CONVERSIONS = {"contractor": 0.12, "agency_worker": 0.05}
"""Who is later hired as an employee, and how often."""
DOMAINS = {"employee": "acme.example", "app_developer": "devmail.example"}


class Names:
    """Person names, each drawn once while there are enough: two people with one name and
    one sponsor are what the integration-health report flags as a probable duplicate."""

    def __init__(self) -> None:
        self._used: set[tuple[str, str]] = set()

    def draw(self, rng: random.Random) -> tuple[str, str]:
        for _ in range(20):
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            if (given, family) in self._used:
                given = f"{given} {rng.choice(string.ascii_uppercase)}."
            if (given, family) not in self._used:
                break
        self._used.add((given, family))
        return given, family


def slug(given: str, family: str) -> str:
    """The local part of an address: `Ada B.`, `van Rossum` -> `adab.vanrossum`."""
    return f"{re.sub('[^a-z]', '', given.lower())}.{re.sub('[^a-z]', '', family.lower())}"


def contributor_id(namespace: uuid.UUID, index: int) -> str:
    return f"c-{uuid.uuid5(namespace, f'contributor/{index}').hex[:24]}"


def type_counts(total: int) -> dict[str, int]:
    """Each type's share, at least one of each when there is room; employees take the rest."""
    counts = {
        p.name: max(1 if total >= len(PROFILES) else 0, round(p.share * total)) for p in PROFILES
    }
    counts["employee"] += total - sum(counts.values())
    return counts


def seed_tag(namespace: uuid.UUID) -> str:
    """Part of every address and external id, so that two seeds posted to one registry are
    two ecosystems rather than thousands of probable duplicates."""
    return namespace.hex[:4]


def people(
    rng: random.Random, namespace: uuid.UUID, total: int, window: Window, names: Names
) -> list[Person]:
    profiles = [p for p in PROFILES for _ in range(type_counts(total)[p.name])]
    rng.shuffle(profiles)
    ids = [contributor_id(namespace, i) for i in range(len(profiles))]
    employees = [ids[i] for i, p in enumerate(profiles) if p.name == "employee"] or ids[:1]
    tag = seed_tag(namespace)
    found = [
        _person(rng, i, ids[i], profile, window, employees, tag, names)
        for i, profile in enumerate(profiles)
    ]
    return _ensure_twists(found)


def _person(
    rng: random.Random,
    index: int,
    cid: str,
    profile: Profile,
    window: Window,
    sponsors: list[str],
    tag: str,
    names: Names,
) -> Person:
    given, family = names.draw(rng)
    name, email, firm = f"{given} {family}", None, ""
    if profile.kind == "firm":
        firm = f"{rng.choice(FIRM_WORDS)} {rng.choice(FIRM_TRADES)} {index}"
        name, email = firm, f"contracts.{tag}@{firm.lower().replace(' ', '-')}.example"
    elif profile.kind == "agent":
        name = f"{rng.choice(AGENT_ROLES)}-{index}"
    else:
        email = f"{slug(given, family)}.{tag}{index}@{DOMAINS.get(profile.name, 'mail.example')}"
    span = (window.end - window.start).days
    # A third were already there when the history starts (the first load from each system).
    offset = rng.randint(0, 30) if rng.random() < 0.33 else rng.randint(30, span - 40)
    sponsor = rng.choice([s for s in sponsors if s != cid] or sponsors)
    contracted = profile.contract_months is not None
    person_like = profile.kind == "person"
    convert_to = None
    if profile.name in CONVERSIONS and rng.random() < CONVERSIONS[profile.name]:
        convert_to = "employee"
    return Person(
        index=index,
        contributor_id=cid,
        profile=profile,
        display_name=name,
        email=email,
        external_id=f"{PREFIXES[profile.system]}-{tag}{100000 + index}",
        business_unit=rng.choice(sorted(BUSINESS_UNITS)),
        sponsor=sponsor,
        arrival=window.start + timedelta(days=offset),
        firm_name=firm,
        convert_to=convert_to,
        backdated_exit=person_like and convert_to is None and rng.random() < 0.04,
        orphaned_access=contracted and convert_to is None and rng.random() < 0.05,
        lapse_checks=rng.random() < 0.06,
        reengage=rng.random() < profile.reengage,
    )


def _ensure_twists(found: list[Person]) -> list[Person]:
    """Small demos too show a conversion, a late termination, orphaned access, lapsed checks
    and a return: the first eligible contributor gets any twist nobody drew."""
    twists: list[tuple[str, str, Callable[[Person], Person]]] = [
        ("convert_to", "contractor", lambda p: replace(p, convert_to="employee")),
        ("backdated_exit", "employee", lambda p: replace(p, backdated_exit=True)),
        ("orphaned_access", "agency_worker", lambda p: replace(p, orphaned_access=True)),
        ("lapse_checks", "contractor", lambda p: replace(p, lapse_checks=True)),
        ("reengage", "gig_worker", lambda p: replace(p, reengage=True)),
    ]
    for twist, type_name, give in twists:
        if any(getattr(p, twist) for p in found):
            continue
        for i, p in enumerate(found):
            plain = not (p.convert_to or p.backdated_exit or p.orphaned_access)
            if p.profile.name == type_name and plain:
                found[i] = give(p)
                break
    return found
