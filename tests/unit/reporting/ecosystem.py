"""A small scripted ecosystem: realistic registry streams made by the registry's own
`decide`, plus policy decisions, as the raw events reporting consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from services.registry.domain import commands as c
from services.registry.domain.contributor import apply
from services.registry.domain.decide import decide
from services.registry.domain.state import Contributor
from services.registry.domain.types import DEFAULT_CONTRIBUTOR_TYPES
from services.registry.domain.values import DEI_PROGRAMS, SourceReference
from services.reporting.projections import (
    ComplianceStatusChanged,
    DeiProgramsExtended,
    ProjectedEvent,
)

REPORT_DAY = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


@dataclass
class Ecosystem:
    events: list[ProjectedEvent] = field(default_factory=list)
    states: dict[str, Contributor] = field(default_factory=dict)

    def do(
        self,
        command: c.RegistryCommand,
        when: datetime,
        *,
        effective: datetime | None = None,
        source: str = "/registry",
    ) -> None:
        if effective is not None:
            command = command.model_copy(update={"effective_at": effective})
        cid = command.contributor_id
        state = self.states.get(cid)
        for d in decide(state, command, now=when, types=DEFAULT_CONTRIBUTOR_TYPES):
            state = apply(state, d.event)
            self.events.append(
                ProjectedEvent(
                    event_id=str(uuid5(NAMESPACE_URL, f"{cid}/{state.version}")),
                    type=d.event.TYPE,
                    subject=cid,
                    sequence=state.version,
                    recorded_time=when,
                    effective_time=d.effective_at,
                    data=d.event.model_dump(mode="json"),
                    source=source,
                )
            )
        assert state is not None
        self.states[cid] = state

    def policy(
        self, cid: str, decision: ComplianceStatusChanged | DeiProgramsExtended, when: datetime
    ) -> None:
        self.raw_policy(cid, decision.TYPE, decision.model_dump(mode="json"), when)

    def raw_policy(self, cid: str, type_: str, data: dict[str, Any], when: datetime) -> None:
        self.events.append(
            ProjectedEvent(
                event_id=str(uuid5(NAMESPACE_URL, f"policy/{len(self.events)}")),
                type=type_,
                subject=cid,
                sequence=None,
                recorded_time=when,
                effective_time=when,
                data=data,
                source="/policy",
            )
        )

    def register(self, cid: str, type_: str, when: datetime, **fields: Any) -> None:
        defaults: dict[str, Any] = {
            "display_name": cid,
            "owning_function": "procurement",
            "sponsor": "mgr-1",
            "business_unit": "Logistics",
        }
        source = fields.pop("source", "/registry")
        command = c.Register(contributor_id=cid, contributor_type=type_, **(defaults | fields))
        self.do(command, when, source=source)

    def onboard(self, cid: str, start: datetime, activated_after: timedelta) -> None:
        self.do(c.StartOnboarding(contributor_id=cid), start)
        self.do(c.Activate(contributor_id=cid), start + activated_after)

    def contract(self, cid: str, kid: str, start: date, end: date | None, when: datetime) -> None:
        self.do(
            c.AddContract(
                contributor_id=cid,
                contract_id=kid,
                legal_entity="Acme",
                start=start,
                end=end,
                terms_reference=f"doc:{kid}",
            ),
            when,
        )

    def grant(
        self, cid: str, gid: str, level: str, when: datetime, expires: datetime | None = None
    ) -> None:
        self.do(
            c.GrantAccess.model_validate(
                {
                    "contributor_id": cid,
                    "grant_id": gid,
                    "resource": f"app:{gid}",
                    "classification": level,
                    "expires_at": expires,
                }
            ),
            when,
        )

    def engage(self, cid: str, eid: str, start: date, end: date | None, when: datetime) -> None:
        command = c.StartEngagement(
            contributor_id=cid,
            engagement_id=eid,
            business_unit="Logistics",
            sponsor="mgr-1",
            start=start,
            end=end,
        )
        self.do(command, when)


def scripted() -> Ecosystem:
    e = Ecosystem()
    days = timedelta(days=1)
    # Employees.
    e.register("emp-1", "employee", at(1, 6), owning_function="hr", display_name="Grace Hopper")
    e.onboard("emp-1", at(1, 6), 3 * days)
    e.contract("emp-1", "k-emp-1", date(2025, 1, 6), None, at(1, 6))
    e.grant("emp-1", "g-e1", "restricted", at(1, 9, 10))
    e.engage("emp-1", "en-1", date(2025, 1, 9), None, at(1, 9, 10))
    e.do(
        c.RecordCheck(
            contributor_id="emp-1",
            check="background_check",
            outcome="passed",
            valid_until=date(2026, 1, 1),
        ),
        at(1, 8),
    )
    e.do(c.EnrolDei(contributor_id="emp-1", program="mentoring"), at(2, 1))
    e.register("emp-2", "employee", at(2, 3), owning_function="hr", business_unit="Retail")
    e.onboard("emp-2", at(2, 3), 7 * days)
    e.grant("emp-2", "g-e2", "internal", at(2, 10, 10), expires=at(12, 31))
    e.do(c.EnrolDei(contributor_id="emp-2", program="mentoring"), at(3, 1))
    e.do(c.EnrolDei(contributor_id="emp-2", program="inclusion_training"), at(3, 1))
    # Contractors: one ending soon with an overdue check, one converted, one offboarded late.
    e.register(
        "con-1",
        "contractor",
        at(1, 13),
        display_name="Ada Lovelace",
        sponsor="emp-1",
        email="Ada.Lovelace+vms@Example.com",
        source_references=(SourceReference(system="fieldglass", external_id="FG-1"),),
    )
    e.onboard("con-1", at(1, 13), 7 * days)
    e.contract("con-1", "k-con-1", date(2025, 1, 13), date(2025, 7, 20), at(1, 13))
    e.grant("con-1", "g-c1", "confidential", at(1, 20, 10), expires=at(7, 20))
    e.engage("con-1", "en-2", date(2025, 1, 20), date(2025, 7, 20), at(1, 20, 10))
    e.do(
        c.RecordCheck(
            contributor_id="con-1",
            check="background_check",
            outcome="passed",
            valid_until=date(2025, 6, 1),
        ),
        at(1, 15),
    )
    e.register("con-2", "contractor", at(2, 1), business_unit="Retail")
    e.onboard("con-2", at(2, 1), 14 * days)
    e.contract("con-2", "k-con-2", date(2025, 2, 1), date(2025, 8, 15), at(2, 1))
    e.do(c.EnrolDei(contributor_id="con-2", program="inclusion_training"), at(2, 20))
    e.do(c.ConvertType(contributor_id="con-2", to_type="employee"), at(4, 1))
    e.register("con-3", "contractor", at(2, 3))
    e.onboard("con-3", at(2, 3), 3 * days)
    e.contract("con-3", "k-con-3", date(2025, 2, 3), date(2025, 8, 31), at(2, 3))
    e.grant("con-3", "g-x1", "confidential", at(2, 6, 10))
    e.grant("con-3", "g-x2", "internal", at(2, 6, 10), expires=at(9, 1))
    e.engage("con-3", "en-3", date(2025, 2, 6), None, at(2, 6, 10))
    # Back-dated ten days: terminated and offboarded on 20 June, recorded only now.
    e.do(
        c.TerminateContract(contributor_id="con-3", contract_id="k-con-3", end=date(2025, 6, 20)),
        NOW,
        effective=at(6, 20, 12),
    )
    e.do(c.Offboard(contributor_id="con-3", reason="contract_ended"), NOW, effective=at(6, 20, 12))
    # An agency worker whose contract ended while the grant stayed.
    e.register("agy-1", "agency_worker", at(3, 3), business_unit="Retail", sponsor="mgr-2")
    e.onboard("agy-1", at(3, 3), 2 * days)
    e.contract("agy-1", "k-agy-1", date(2025, 3, 3), date(2025, 6, 25), at(3, 3))
    e.grant("agy-1", "g-a1", "internal", at(3, 5, 10))
    e.engage("agy-1", "en-6", date(2025, 3, 5), date(2025, 6, 25), at(3, 5, 10))
    e.do(
        c.EndEngagement(contributor_id="agy-1", engagement_id="en-6", end=date(2025, 6, 25)),
        at(6, 25, 17),
    )
    # A gig worker who left and came back.
    e.register("gig-1", "gig_worker", at(1, 20), owning_function="business_unit", sponsor="emp-1")
    e.onboard("gig-1", at(1, 20), 1 * days)
    e.engage("gig-1", "en-4", date(2025, 1, 21), date(2025, 2, 28), at(1, 21, 10))
    e.do(
        c.EndEngagement(contributor_id="gig-1", engagement_id="en-4", end=date(2025, 2, 28)),
        at(2, 28, 17),
    )
    e.do(c.Offboard(contributor_id="gig-1", reason="engagement_completed"), at(3, 1))
    e.do(c.Reengage(contributor_id="gig-1"), at(5, 1))
    e.do(c.Activate(contributor_id="gig-1"), at(5, 3))
    e.engage("gig-1", "en-5", date(2025, 5, 3), None, at(5, 3, 10))
    # A firm with access and no contract.
    e.register("sub-1", "subcontractor", at(4, 1))
    e.onboard("sub-1", at(4, 1), 9 * days)
    e.grant("sub-1", "g-s1", "internal", at(4, 10, 10))
    # Probable duplicates and an ownership conflict.
    e.register(
        "dup-a",
        "contractor",
        at(3, 10),
        display_name="Lovelace, Ada",
        sponsor="emp-1",
        email="ada.lovelace@example.com",
        source_references=(SourceReference(system="workday", external_id="W-9"),),
    )
    e.register(
        "dup-b",
        "partner",
        at(3, 12),
        display_name="Alan Turing",
        owning_function="business_development",
        source="/vms",
    )
    e.do(c.UpdateProfile(contributor_id="dup-b", owning_function="legal"), at(4, 2), source="/hris")
    e.register("dup-c", "partner", at(3, 14), display_name="alan  TURING")
    # An agent whose sponsor has left; a developer still invited.
    e.register("mgr-3", "employee", at(1, 6), owning_function="hr")
    e.onboard("mgr-3", at(1, 6), 2 * days)
    e.do(c.Offboard(contributor_id="mgr-3", reason="resigned"), at(5, 15))
    e.register(
        "bot-1",
        "digital_agent",
        at(2, 1),
        owning_function="it",
        sponsor="mgr-3",
        business_unit="Platform",
    )
    e.onboard("bot-1", at(2, 1), 1 * days)
    e.register(
        "dev-1",
        "app_developer",
        at(6, 2),
        owning_function="developer_relations",
        business_unit="Platform",
    )
    # Policy decisions, one of them superseded and delivered out of order, one unknown type.
    status = ComplianceStatusChanged
    e.policy("emp-1", status(status="compliant"), at(1, 10))
    e.policy("emp-2", status(status="compliant"), at(2, 11))
    e.policy("con-1", status(status="non_compliant"), at(6, 2))
    e.policy("con-1", status(status="pending"), at(1, 14))
    e.policy("con-2", status(status="compliant"), at(2, 16))
    e.policy("agy-1", status(status="expired"), at(6, 26))
    e.policy("sub-1", status(status="pending"), at(4, 2))
    e.policy("gig-1", status(status="compliant"), at(5, 4))
    e.raw_policy("emp-1", "org.workforce.policy.access_ceiling_changed.v1", {"x": 1}, at(3, 1))
    everything = DeiProgramsExtended(programs=DEI_PROGRAMS)
    for cid in ("emp-1", "emp-2", "con-2", "mgr-3"):
        e.policy(cid, everything, at(1, 6))
    e.policy("con-1", DeiProgramsExtended(programs=("inclusion_training",)), at(1, 13))
    e.policy("agy-1", DeiProgramsExtended(programs=("inclusion_training", "mentoring")), at(3, 3))
    return e
