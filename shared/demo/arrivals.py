"""Contributors who arrive through the other doors: Okta provisioning over SCIM, and people
a second system registers again (same e-mail address), which the registry must catch as
probable duplicates instead of creating a second identity."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.demo.life import Person
from shared.demo.people import Names, contributor_id, seed_tag, slug
from shared.demo.vocabulary import BUSINESS_UNITS

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CONTRIBUTOR = "urn:workforce:scim:schemas:extension:contributor:1.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA = "okta"


@dataclass(frozen=True)
class ScimUser:
    """A User Okta creates, then maybe moves, deactivates or deletes (in that order)."""

    key: str  # Idempotency-Key of the POST: a re-run finds the User it created
    contributor_type: str
    document: dict[str, Any]
    follow_ups: tuple[tuple[Literal["PATCH", "DELETE"], dict[str, Any] | None], ...] = ()


@dataclass(frozen=True)
class Duplicate:
    """`existing_id` arrives again from `system`; `via` is how that system posts it."""

    existing_id: str
    via: Literal["rest", "scim"]
    system: str
    external_id: str
    email: str
    document: dict[str, Any] = field(default_factory=dict)


def scim_document(
    email: str,
    external_id: str,
    name: tuple[str, str],
    user_type: str,
    unit: str,
    manager: str,
) -> dict[str, Any]:
    """What Okta sends for a new hire: userName is the work address."""
    given, family = name
    return {
        "schemas": [CORE, ENTERPRISE, CONTRIBUTOR],
        "userName": email,
        "externalId": external_id,
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "emails": [{"value": email, "type": "work", "primary": True}],
        "userType": user_type,
        "active": True,
        ENTERPRISE: {"department": unit, "manager": {"value": manager}},
    }


def _okta_id(namespace: uuid.UUID, what: str) -> str:
    return "00u" + uuid.uuid5(namespace, what).hex[:17]


def scim_users(
    rng: random.Random,
    namespace: uuid.UUID,
    seed: int,
    count: int,
    sponsors: list[str],
    names: Names,
) -> list[ScimUser]:
    found = []
    for i in range(count):
        given, family = names.draw(rng)
        user_type = "Employee" if rng.random() < 0.7 else "Contractor"
        unit = rng.choice(sorted(BUSINESS_UNITS))
        document = scim_document(
            f"{slug(given, family)}.{seed_tag(namespace)}okta{i}@acme.example",
            _okta_id(namespace, f"scim/{i}"),
            (given, family),
            user_type,
            unit,
            rng.choice(sponsors),
        )
        follow_ups: list[tuple[Literal["PATCH", "DELETE"], dict[str, Any] | None]] = []
        roll = rng.random()
        if roll < 0.25:
            moved = rng.choice(sorted(set(BUSINESS_UNITS) - {unit}))
            path = f"{ENTERPRISE}:department"
            follow_ups.append(("PATCH", _patch({"op": "replace", "path": path, "value": moved})))
        elif roll < 0.37:
            follow_ups.append(("PATCH", _patch({"op": "replace", "value": {"active": False}})))
        elif roll < 0.45:
            follow_ups.append(("DELETE", None))
        found.append(
            ScimUser(f"wfe-demo-{seed}-scim-{i}", user_type.lower(), document, tuple(follow_ups))
        )
    return found


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def duplicates(
    rng: random.Random, namespace: uuid.UUID, count: int, persons: list[Person]
) -> list[Duplicate]:
    """Half are contractors HR registers again in Workday (REST), half employees Okta
    provisions again (SCIM); each matches the existing contributor by e-mail."""
    contractors = [p for p in persons if p.profile.name in ("contractor", "agency_worker")]
    employees = [p for p in persons if p.profile.name == "employee"]
    contractors = [p for p in contractors if p.email and p.convert_to is None]
    employees = [p for p in employees if p.email]
    chosen_rest = rng.sample(contractors, min(len(contractors), (count + 1) // 2))
    chosen_scim = rng.sample(employees, min(len(employees), count // 2))
    found = []
    for i, p in enumerate(chosen_rest):
        assert p.email is not None
        external_id = f"WD-{p.external_id}"
        document = {
            "contributor_id": contributor_id(namespace, 1_000_000 + i),
            "contributor_type": p.profile.name,
            "display_name": p.display_name,
            "email": p.email.upper(),  # another system, another spelling: same address
            "owning_function": "hr",
            "sponsor": p.sponsor,
            "business_unit": p.business_unit,
            "source_references": [{"system": "workday", "external_id": external_id}],
        }
        found.append(Duplicate(p.contributor_id, "rest", "workday", external_id, p.email, document))
    for p in chosen_scim:
        assert p.email is not None
        external_id = _okta_id(namespace, f"duplicate/{p.index}")
        given, _, family = p.display_name.partition(" ")
        document = scim_document(
            p.email, external_id, (given, family), "Employee", p.business_unit, p.sponsor
        )
        found.append(Duplicate(p.contributor_id, "scim", OKTA, external_id, p.email, document))
    return found
