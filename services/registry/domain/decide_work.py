"""The contract and engagement part of `decide`."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from services.registry.domain.commands import (
    AddContract,
    AmendContract,
    EndEngagement,
    ExtendContract,
    StartEngagement,
    TerminateContract,
)
from services.registry.domain.errors import InvalidCommand
from services.registry.domain.events import (
    ContractAdded,
    ContractAmended,
    ContractExtended,
    ContractTerminated,
    EngagementEnded,
    EngagementStarted,
    RegistryEvent,
)
from services.registry.domain.state import Contract, Contributor, Engagement

T = TypeVar("T")


def require_not_offboarded(s: Contributor, what: str) -> None:
    if s.lifecycle == "offboarded":
        raise InvalidCommand("contributor_offboarded", f"cannot {what}: contributor offboarded")


def contract(
    s: Contributor, c: AddContract | AmendContract | ExtendContract | TerminateContract
) -> list[RegistryEvent]:
    if isinstance(c, AddContract):
        require_not_offboarded(s, "add a contract")
        if c.contract_id in s.contracts:
            raise InvalidCommand("contract_exists", f"contract {c.contract_id!r} already exists")
        _check_dates(c.start, c.end, "contract")
        return [
            ContractAdded(
                contract_id=c.contract_id,
                legal_entity=c.legal_entity,
                start=c.start,
                end=c.end,
                terms_reference=c.terms_reference,
            )
        ]
    k = _known_contract(s, c.contract_id)
    if isinstance(c, TerminateContract):
        # Back-dating is allowed: the termination date may lie before today.
        if k.end is not None and c.end > k.end:
            raise InvalidCommand(
                "termination_after_end", "a contract cannot be terminated after its end date"
            )
        _check_dates(k.start, c.end, "contract")
        return [
            ContractTerminated(
                contract_id=k.contract_id,
                legal_entity=k.legal_entity,
                start=k.start,
                end=c.end,
                terms_reference=k.terms_reference,
            )
        ]
    if isinstance(c, ExtendContract):
        require_not_offboarded(s, "extend a contract")
        if k.end is None:
            raise InvalidCommand("contract_open_ended", "an open-ended contract has no end to move")
        if c.new_end <= k.end:
            raise InvalidCommand(
                "extension_not_later", f"an extension must end after {k.end.isoformat()}"
            )
        return [
            ContractExtended(
                contract_id=k.contract_id,
                legal_entity=k.legal_entity,
                start=k.start,
                end=c.new_end,
                terms_reference=k.terms_reference,
            )
        ]
    return _amend(k, c)


def _amend(k: Contract, c: AmendContract) -> list[RegistryEvent]:
    if not c.model_fields_set - {"contributor_id", "effective_at", "contract_id"}:
        raise InvalidCommand("empty_update", "an amendment names at least one field")
    start, end = _or(c.start, k.start), _or(c.end, k.end)
    _check_dates(start, end, "contract")
    amended = ContractAmended(
        contract_id=k.contract_id,
        legal_entity=_or(c.legal_entity, k.legal_entity),
        start=start,
        end=end,
        terms_reference=_or(c.terms_reference, k.terms_reference),
    )
    unchanged = (k.legal_entity, k.start, k.end, k.terms_reference) == (
        amended.legal_entity,
        amended.start,
        amended.end,
        amended.terms_reference,
    )
    return [] if unchanged else [amended]


def engagement(s: Contributor, c: StartEngagement | EndEngagement) -> list[RegistryEvent]:
    if isinstance(c, StartEngagement):
        require_not_offboarded(s, "start an engagement")
        if c.engagement_id in s.engagements:
            raise InvalidCommand(
                "engagement_exists", f"engagement {c.engagement_id!r} already exists"
            )
        _check_dates(c.start, c.end, "engagement")
        if c.contract_id is not None:
            _known_contract(s, c.contract_id)
        return [
            EngagementStarted(
                engagement_id=c.engagement_id,
                business_unit=c.business_unit,
                project=c.project,
                sponsor=c.sponsor,
                contract_id=c.contract_id,
                start=c.start,
                end=c.end,
            )
        ]
    e = _open_engagement(s, c.engagement_id)
    _check_dates(e.start, c.end, "engagement")
    return [
        EngagementEnded(
            engagement_id=e.engagement_id,
            business_unit=e.business_unit,
            project=e.project,
            sponsor=e.sponsor,
            contract_id=e.contract_id,
            start=e.start,
            end=c.end,
        )
    ]


def _known_contract(s: Contributor, contract_id: str) -> Contract:
    """A contract that exists and is not terminated."""
    k = s.contracts.get(contract_id)
    if k is None:
        raise InvalidCommand("unknown_contract", f"no contract {contract_id!r}")
    if k.status == "terminated":
        raise InvalidCommand(
            "contract_already_terminated", f"contract {contract_id!r} is terminated"
        )
    return k


def _open_engagement(s: Contributor, engagement_id: str) -> Engagement:
    e = s.engagements.get(engagement_id)
    if e is None:
        raise InvalidCommand("unknown_engagement", f"no engagement {engagement_id!r}")
    if e.status == "ended":
        raise InvalidCommand("engagement_already_ended", f"engagement {engagement_id!r} has ended")
    return e


def _check_dates(start: date, end: date | None, what: str) -> None:
    if end is not None and end < start:
        raise InvalidCommand(f"{what}_ends_before_start", f"a {what} cannot end before it starts")


def _or(new: T | None, old: T) -> T:
    return old if new is None else new
