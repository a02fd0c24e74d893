"""One contributor's history as the registry must see it.

`Story` mirrors the registry's rules (lifecycle transitions, contracts, engagements, grants,
DEI) and refuses, at generation time, any event the registry would refuse: a rejection in a
demo run is a generator bug that the unit tests catch, not something the demo tolerates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.demo.planned import Channel, PlannedEvent


class Refused(AssertionError):
    """The generator asked for something the registry would refuse."""


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise Refused(why)


@dataclass
class Contract:
    legal_entity: str
    start: date
    end: date | None
    terms_reference: str
    terminated: bool = False

    def payload(self, contract_id: str) -> dict[str, Any]:
        return {
            "contract_id": contract_id,
            "legal_entity": self.legal_entity,
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "terms_reference": self.terms_reference,
        }


@dataclass
class Story:
    """The events of one contributor, in the order the registry will record them."""

    contributor_id: str
    contributor_type: str
    kind: str
    channel: Channel
    namespace: uuid.UUID
    events: list[PlannedEvent] = field(default_factory=list)
    lifecycle: str = "unregistered"
    contracts: dict[str, Contract] = field(default_factory=dict)
    engagements: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, datetime | None] = field(default_factory=dict)
    dei: set[str] = field(default_factory=set)
    checks: dict[str, date | None] = field(default_factory=dict)
    """The checks last passed, with their validity."""
    profile: dict[str, Any] = field(default_factory=dict)
    _recorded: datetime | None = None

    def emit(
        self, verb: str, data: dict[str, Any], when: datetime, source: str, learned: datetime | None
    ) -> None:
        """`learned`: when the source records it, if well after it took effect (back-dating);
        otherwise the simulated feed has it a few minutes after it happened."""
        arrival = learned or when + timedelta(minutes=5)
        recorded = arrival if self._recorded is None else max(self._recorded, arrival)
        self._recorded = recorded
        event_id = str(uuid.uuid5(self.namespace, f"{self.contributor_id}/{len(self.events)}"))
        self.events.append(
            PlannedEvent(
                event_id, source, verb, self.contributor_id, data, when, recorded, self.channel
            )
        )

    # Lifecycle ---------------------------------------------------------------------------

    def register(self, data: dict[str, Any], when: datetime, source: str) -> None:
        _require(self.lifecycle == "unregistered", "registered twice")
        self.lifecycle = "invited"
        self.profile = dict(data)
        self.emit("registered", {"contributor_id": self.contributor_id, **data}, when, source, None)

    def move(
        self,
        verb: str,
        when: datetime,
        source: str,
        reason: str | None = None,
        learned: datetime | None = None,
    ) -> None:
        """A lifecycle transition other than offboarding."""
        allowed, to = _TRANSITIONS[verb]
        _require(self.lifecycle in allowed, f"{verb} from {self.lifecycle}")
        self.lifecycle = to
        self.emit(verb, {} if reason is None else {"reason": reason}, when, source, learned)

    def offboard(
        self, reason: str, when: datetime, source: str, learned: datetime | None = None
    ) -> None:
        """The registry revokes every grant and ends every open engagement itself."""
        _require(self.lifecycle not in ("unregistered", "offboarded"), "offboarded twice")
        self.lifecycle = "offboarded"
        self.grants.clear()
        for engagement in self.engagements.values():
            engagement["open"] = False
        self.emit("offboarded", {"reason": reason}, when, source, learned)

    def convert(self, to_type: str, when: datetime, source: str) -> None:
        _require(self.lifecycle not in ("unregistered", "offboarded"), "convert offboarded")
        _require(to_type != self.contributor_type, "convert to the same type")
        data = {"from_type": self.contributor_type, "to_type": to_type}
        self.contributor_type = to_type
        self.emit("type_converted", data, when, source, None)

    def update_profile(self, changes: dict[str, Any], when: datetime, source: str) -> None:
        """Only what differs: the registry records nothing for a change to the same value."""
        changed = {k: v for k, v in changes.items() if self.profile.get(k) != v}
        if changed:
            self.profile.update(changed)
            self.emit("profile_updated", changed, when, source, None)

    def link(self, system: str, external_id: str, when: datetime, source: str) -> None:
        data = {"system": system, "external_id": external_id}
        self.emit("source_reference_linked", data, when, source, None)

    # Contracts and engagements -----------------------------------------------------------

    def add_contract(self, contract_id: str, contract: Contract, when: datetime, src: str) -> None:
        _require(self.lifecycle != "offboarded", "contract for an offboarded contributor")
        _require(contract_id not in self.contracts, f"contract {contract_id} exists")
        _require(contract.end is None or contract.end >= contract.start, "contract ends early")
        self.contracts[contract_id] = contract
        self.emit("contract_added", contract.payload(contract_id), when, src, None)

    def in_force(self, contract_id: str) -> Contract:
        contract = self.contracts.get(contract_id)
        _require(contract is not None and not contract.terminated, f"{contract_id} not in force")
        assert contract is not None
        return contract

    def extend(self, contract_id: str, new_end: date, when: datetime, source: str) -> None:
        contract = self.in_force(contract_id)
        _require(self.lifecycle != "offboarded", "extend for an offboarded contributor")
        _require(contract.end is not None and new_end > contract.end, "extension not later")
        contract.end = new_end
        self.emit("contract_extended", contract.payload(contract_id), when, source, None)

    def amend(self, contract_id: str, terms_reference: str, when: datetime, source: str) -> None:
        contract = self.in_force(contract_id)
        _require(contract.terms_reference != terms_reference, "amendment changes nothing")
        contract.terms_reference = terms_reference
        self.emit("contract_amended", contract.payload(contract_id), when, source, None)

    def terminate(
        self,
        contract_id: str,
        end: date,
        when: datetime,
        source: str,
        learned: datetime | None = None,
    ) -> None:
        contract = self.in_force(contract_id)
        _require(contract.end is None or end <= contract.end, "termination after the end")
        _require(end >= contract.start, "termination before the start")
        contract.end, contract.terminated = end, True
        self.emit("contract_terminated", contract.payload(contract_id), when, source, learned)

    def start_engagement(self, data: dict[str, Any], when: datetime, source: str) -> None:
        eid = data["engagement_id"]
        _require(self.lifecycle != "offboarded", "engagement for an offboarded contributor")
        _require(eid not in self.engagements, f"engagement {eid} exists")
        if data["contract_id"] is not None:
            self.in_force(data["contract_id"])
        _require(data["end"] is None or data["end"] >= data["start"], "engagement ends early")
        self.engagements[eid] = {**data, "open": True}
        payload = {**data, "start": data["start"].isoformat()}
        payload["end"] = None if data["end"] is None else data["end"].isoformat()
        self.emit("engagement_started", payload, when, source, None)

    def end_engagement(self, eid: str, end: date, when: datetime, source: str) -> None:
        engagement = self.engagements.get(eid)
        _require(engagement is not None and engagement["open"], f"{eid} not open")
        assert engagement is not None
        end = max(end, engagement["start"])
        engagement["open"] = False
        payload = {k: v for k, v in engagement.items() if k != "open"}
        payload.update(start=engagement["start"].isoformat(), end=end.isoformat())
        self.emit("engagement_ended", payload, when, source, None)

    def open_engagements(self) -> list[str]:
        return [eid for eid, e in self.engagements.items() if e["open"]]

    # Checks, access, DEI -----------------------------------------------------------------

    def check(
        self, name: str, outcome: str, valid_until: date | None, when: datetime, source: str
    ) -> None:
        _require(valid_until is None or outcome in ("passed", "waived"), "validity without pass")
        if outcome in ("passed", "waived"):
            self.checks[name] = valid_until
        else:
            self.checks.pop(name, None)
        data = {"check": name, "outcome": outcome, "valid_until": None, "evidence_reference": None}
        if valid_until is not None:
            data["valid_until"] = valid_until.isoformat()
        if outcome != "pending":
            data["evidence_reference"] = f"vendor:sterling/{self.contributor_id}/{name}"
        self.emit("check_recorded", data, when, source, None)

    def grant(
        self,
        grant_id: str,
        resource: str,
        classification: str,
        expires_at: datetime | None,
        when: datetime,
        source: str,
    ) -> None:
        _require(self.lifecycle in ("onboarding", "active"), f"grant while {self.lifecycle}")
        _require(grant_id not in self.grants, f"grant {grant_id} active")
        _require(expires_at is None or expires_at > when, "grant expires before it starts")
        self.grants[grant_id] = expires_at
        data = {
            "grant_id": grant_id,
            "resource": resource,
            "classification": classification,
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        }
        self.emit("access_granted", data, when, source, None)

    def revoke(self, grant_id: str, reason: str, when: datetime, source: str) -> None:
        _require(grant_id in self.grants, f"no active grant {grant_id}")
        del self.grants[grant_id]
        self.emit("access_revoked", {"grant_id": grant_id, "reason": reason}, when, source, None)

    def enrol(self, program: str, when: datetime, source: str) -> None:
        _require(self.kind == "person", "DEI for a firm or agent")
        _require(self.lifecycle != "offboarded", "DEI for an offboarded contributor")
        _require(program not in self.dei, f"already enrolled in {program}")
        self.dei.add(program)
        self.emit("dei_program_enrolled", {"program": program}, when, source, None)

    def withdraw(self, program: str, when: datetime, source: str) -> None:
        _require(program in self.dei, f"not enrolled in {program}")
        self.dei.discard(program)
        self.emit("dei_program_withdrawn", {"program": program}, when, source, None)


_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "onboarding_started": (("invited",), "onboarding"),
    "activated": (("onboarding",), "active"),
    "suspended": (("active",), "suspended"),
    "reinstated": (("suspended",), "active"),
    "reengaged": (("offboarded",), "onboarding"),
}
