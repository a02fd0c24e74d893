"""Contracts and engagements."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.registry.domain.commands import (
    AddContract,
    AmendContract,
    EndEngagement,
    ExtendContract,
    Offboard,
    StartEngagement,
    TerminateContract,
)
from services.registry.domain.errors import InvalidCommand
from services.registry.domain.events import (
    ContractAmended,
    ContractExtended,
    ContractTerminated,
    EngagementEnded,
)
from services.registry.domain.state import Contract

from .support import CID, NOW, decisions, events, given, run

START = date(2025, 1, 1)
END = date(2025, 6, 30)


def add(**overrides: Any) -> AddContract:
    fields: dict[str, Any] = {
        "contributor_id": CID,
        "contract_id": "k-1",
        "legal_entity": "Acme GmbH",
        "start": START,
        "end": END,
        "terms_reference": "doc:msa-7",
    }
    return AddContract.model_validate(fields | overrides)


def engage(**overrides: Any) -> StartEngagement:
    fields: dict[str, Any] = {
        "contributor_id": CID,
        "engagement_id": "e-1",
        "business_unit": "Logistics",
        "project": "Route planning",
        "sponsor": "emp-42",
        "contract_id": "k-1",
        "start": START,
    }
    return StartEngagement.model_validate(fields | overrides)


def refused(state_commands: tuple[Any, ...], command: Any) -> str:
    with pytest.raises(InvalidCommand) as info:
        events(given(*state_commands), command)
    return info.value.reason


def test_a_contract_is_added_in_force() -> None:
    state = given(add())
    assert state.contracts["k-1"] == Contract(
        "k-1", "Acme GmbH", START, END, "doc:msa-7", "in_force"
    )
    assert state.contracts["k-1"].covers(date(2025, 3, 1))
    assert not state.contracts["k-1"].covers(date(2025, 7, 1))


def test_contract_refusals() -> None:
    assert refused((), add(end=START - timedelta(days=1))) == "contract_ends_before_start"
    assert refused((add(),), add()) == "contract_exists"
    assert refused((Offboard(contributor_id=CID, reason="other"),), add()) == (
        "contributor_offboarded"
    )


def test_an_amendment_carries_the_whole_contract_and_no_change_is_a_no_op() -> None:
    amend = AmendContract(contributor_id=CID, contract_id="k-1", terms_reference="doc:msa-8")
    assert events(given(add()), amend) == [
        ContractAmended(
            contract_id="k-1",
            legal_entity="Acme GmbH",
            start=START,
            end=END,
            terms_reference="doc:msa-8",
        )
    ]
    same = AmendContract(contributor_id=CID, contract_id="k-1", legal_entity="Acme GmbH")
    assert events(given(add()), same) == []
    assert refused((add(),), AmendContract(contributor_id=CID, contract_id="k-1")) == "empty_update"
    later_start = AmendContract(contributor_id=CID, contract_id="k-1", start=END + timedelta(1))
    assert refused((add(),), later_start) == "contract_ends_before_start"


def test_extension() -> None:
    extend = ExtendContract(contributor_id=CID, contract_id="k-1", new_end=date(2025, 12, 31))
    [event] = events(given(add()), extend)
    assert isinstance(event, ContractExtended)
    assert event.end == date(2025, 12, 31)
    assert given(add(), extend).contracts["k-1"].end == date(2025, 12, 31)


@pytest.mark.parametrize("new_end", [END, END - timedelta(days=1)])
def test_extending_to_the_same_or_an_earlier_date_is_refused(new_end: date) -> None:
    extend = ExtendContract(contributor_id=CID, contract_id="k-1", new_end=new_end)
    assert refused((add(),), extend) == "extension_not_later"


def test_extending_an_open_ended_or_unknown_contract_is_refused() -> None:
    extend = ExtendContract(contributor_id=CID, contract_id="k-1", new_end=END)
    assert refused((add(end=None),), extend) == "contract_open_ended"
    assert refused((), extend) == "unknown_contract"


def test_a_back_dated_termination_is_allowed() -> None:
    last_day = NOW.date() - timedelta(days=6)
    terminate = TerminateContract(
        contributor_id=CID,
        contract_id="k-1",
        end=last_day,
        effective_at=NOW - timedelta(days=6),
    )
    [decision] = decisions(given(add(end=None)), terminate)
    assert decision.effective_at == NOW - timedelta(days=6)
    assert isinstance(decision.event, ContractTerminated)
    assert decision.event.end == last_day
    state = given(add(end=None), terminate)
    assert state.contracts["k-1"].status == "terminated"
    assert state.contracts["k-1"].end == last_day


def test_termination_refusals() -> None:
    def terminate(day: date) -> TerminateContract:
        return TerminateContract(contributor_id=CID, contract_id="k-1", end=day)

    assert refused((add(), terminate(END)), terminate(END)) == "contract_already_terminated"
    assert refused((add(),), terminate(END + timedelta(days=1))) == "termination_after_end"
    assert refused((add(),), terminate(START - timedelta(days=1))) == "contract_ends_before_start"
    extend = ExtendContract(contributor_id=CID, contract_id="k-1", new_end=date(2026, 1, 1))
    assert refused((add(), terminate(END)), extend) == "contract_already_terminated"


def test_terminating_is_allowed_after_offboarding() -> None:
    terminate = TerminateContract(contributor_id=CID, contract_id="k-1", end=START)
    state = given(add(), Offboard(contributor_id=CID, reason="resigned"), terminate)
    assert state.contracts["k-1"].status == "terminated"


def test_an_engagement_starts_and_ends() -> None:
    state = given(add(), engage())
    assert state.engagements["e-1"].status == "open"
    end = EndEngagement(contributor_id=CID, engagement_id="e-1", end=date(2025, 2, 28))
    [event] = events(state, end)
    assert isinstance(event, EngagementEnded)
    assert (event.project, event.sponsor, event.end) == (
        "Route planning",
        "emp-42",
        date(2025, 2, 28),
    )
    assert run(state, end).engagements["e-1"].status == "ended"


def test_engagement_refusals() -> None:
    end = EndEngagement(contributor_id=CID, engagement_id="e-1", end=date(2025, 2, 28))
    assert refused((), engage()) == "unknown_contract"
    assert refused((add(),), engage(end=START - timedelta(days=1))) == (
        "engagement_ends_before_start"
    )
    assert refused((add(), engage()), engage()) == "engagement_exists"
    assert refused((add(),), end) == "unknown_engagement"
    assert refused((add(), engage(), end), end) == "engagement_already_ended"
    early = EndEngagement(contributor_id=CID, engagement_id="e-1", end=START - timedelta(days=1))
    assert refused((add(), engage()), early) == "engagement_ends_before_start"
    assert refused((Offboard(contributor_id=CID, reason="other"),), engage(contract_id=None)) == (
        "contributor_offboarded"
    )
