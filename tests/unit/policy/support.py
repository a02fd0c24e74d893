"""Builders for the policy domain tests: a contributor's registry stream, folded into a view.

Payloads are built with the registry's own event classes and dumped to JSON, so the tests
feed `apply` exactly what it receives from the topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from services.policy.domain.document import DEFAULT_POLICY, PolicyDocument, content_hash
from services.policy.domain.evaluate import evaluate
from services.policy.domain.evaluation import Evaluation, Timer
from services.policy.domain.schedule import as_timer, timer_keys
from services.policy.domain.view import PolicyView, apply
from services.registry.domain import events as r
from services.registry.domain.values import CheckName, CheckOutcome, Classification
from shared.catalogue import EventPayload

START = date(2025, 1, 6)
CID = "c-1"
SPONSOR = "emp-42"

CHECKS_OF: Mapping[str, tuple[CheckName, ...]] = {
    name: tuple(rules.compliance.checks) for name, rules in DEFAULT_POLICY.types.items()
}


def at(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def with_rules(
    changes: Mapping[str, Any], policy: PolicyDocument = DEFAULT_POLICY
) -> PolicyDocument:
    """`policy` with `changes` merged in (nested dicts merge, anything else replaces)."""

    def merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in patch.items():
            old = out.get(key)
            out[key] = (
                merge(old, value) if isinstance(old, dict) and isinstance(value, Mapping) else value
            )
        return out

    return PolicyDocument.model_validate(merge(policy.model_dump(mode="json"), changes))


@dataclass
class Stream:
    """One contributor's registry stream, appended to as a test tells its story."""

    contributor_type: str = "contractor"
    view: PolicyView = field(default_factory=PolicyView)

    def add(self, payload: EventPayload, on: date = START) -> Stream:
        data = payload.model_dump(mode="json")
        self.view = apply(self.view, payload.TYPE, data, at(on), self.view.version + 1)
        return self

    def evaluate(self, today: date, policy: PolicyDocument = DEFAULT_POLICY) -> Evaluation:
        return evaluate(self.view, policy, content_hash(policy), today)

    def timers(self, today: date, policy: PolicyDocument = DEFAULT_POLICY) -> tuple[Timer, ...]:
        return tuple(map(as_timer, timer_keys(self.view, policy, self.evaluate(today, policy))))

    # The story steps, in the registry's vocabulary.

    def register(self, on: date = START) -> Stream:
        return self.add(
            r.Registered(
                contributor_id=CID,
                contributor_type=self.contributor_type,
                display_name="Ada Example",
                owning_function="procurement",
                sponsor=SPONSOR,
                business_unit="Logistics",
            ),
            on,
        )

    def activate(self, on: date = START) -> Stream:
        return self.add(r.Activated(), on)

    def contract(
        self, end: date | None, start: date = START, contract_id: str = "k-1", on: date = START
    ) -> Stream:
        return self.add(
            r.ContractAdded(
                contract_id=contract_id,
                legal_entity="Example Ltd",
                start=start,
                end=end,
                terms_reference="MSA-1",
            ),
            on,
        )

    def terminate(self, end: date, contract_id: str = "k-1", on: date = START) -> Stream:
        term = self.view.contracts[contract_id]
        return self.add(
            r.ContractTerminated(
                contract_id=contract_id,
                legal_entity="Example Ltd",
                start=term.start,
                end=end,
                terms_reference="MSA-1",
            ),
            on,
        )

    def check(
        self,
        name: CheckName,
        outcome: CheckOutcome = "passed",
        valid_until: date | None = None,
        on: date = START,
    ) -> Stream:
        return self.add(r.CheckRecorded(check=name, outcome=outcome, valid_until=valid_until), on)

    def pass_all(self, valid_until: date | None = None, on: date = START) -> Stream:
        for name in CHECKS_OF.get(self.contributor_type, ()):
            self.check(name, valid_until=valid_until, on=on)
        return self

    def grant(
        self,
        grant_id: str = "g-1",
        resource: str = "crm",
        classification: Classification = "internal",
        expires: date | None = None,
        on: date = START,
    ) -> Stream:
        expires_at = at(expires) if expires is not None else None
        return self.add(
            r.AccessGranted(
                grant_id=grant_id,
                resource=resource,
                classification=classification,
                expires_at=expires_at,
            ),
            on,
        )

    def revoke(self, grant_id: str = "g-1", on: date = START) -> Stream:
        return self.add(r.AccessRevoked(grant_id=grant_id, reason="requested"), on)

    def offboard(self, on: date = START) -> Stream:
        return self.add(r.Offboarded(reason="contract_ended"), on)


def active(
    contributor_type: str = "contractor",
    *,
    contract_end: date | None = date(2025, 12, 31),
    checks_valid_until: date | None = None,
) -> Stream:
    """A registered, fully checked, active contributor with one contract."""
    s = Stream(contributor_type).register().contract(contract_end)
    return s.pass_all(checks_valid_until).activate()
