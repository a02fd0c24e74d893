"""Hypothesis strategies: random commands for one contributor, valid or not.

Ids come from small pools so commands often hit the same contract, grant or engagement,
which is where the interesting refusals and interactions are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from services.registry.domain import commands as c
from services.registry.domain.commands import RegistryCommand
from services.registry.domain.values import (
    CHECK_NAMES,
    CHECK_OUTCOMES,
    CLASSIFICATIONS,
    DEI_PROGRAMS,
    OFFBOARDING_REASONS,
    OWNING_FUNCTIONS,
    REVOCATION_REASONS,
    SELF_ID_DIMENSIONS,
    SUSPENSION_REASONS,
    SourceReference,
)

from .support import CID, TYPES

START = datetime(2025, 1, 1, 9, tzinfo=UTC)
TYPE_NAMES = sorted(TYPES.names)

contract_ids = st.sampled_from(["k-1", "k-2"])
engagement_ids = st.sampled_from(["e-1", "e-2"])
grant_ids = st.sampled_from(["g-1", "g-2", "g-3"])
days = st.dates(min_value=date(2024, 11, 1), max_value=date(2025, 6, 30))
maybe_days = st.none() | days
labels = st.sampled_from(["Logistics", "Finance"])
references = st.builds(
    SourceReference, system=st.sampled_from(["okta", "workday"]), external_id=st.just("x-1")
)


def _command(cls: type[RegistryCommand], **fields: Any) -> st.SearchStrategy[RegistryCommand]:
    return st.builds(cls, contributor_id=st.just(CID), **fields)


def register(
    type_names: list[str] = TYPE_NAMES, *, unique_references: bool = True
) -> st.SearchStrategy[RegistryCommand]:
    return _command(
        c.Register,
        contributor_type=st.sampled_from(type_names),
        display_name=st.just("Ada"),
        email=st.none() | st.just("ada@example.com"),
        owning_function=st.sampled_from(OWNING_FUNCTIONS),
        sponsor=st.just("emp-1"),
        business_unit=labels,
        source_references=st.lists(references, max_size=2, unique=unique_references).map(tuple),
    )


onboard = _command(c.StartOnboarding)
activate = _command(c.Activate)
grant = _command(
    c.GrantAccess,
    grant_id=grant_ids,
    resource=st.just("wiki"),
    classification=st.sampled_from(CLASSIFICATIONS),
    expires_at=st.sampled_from([None, START, START + timedelta(days=365)]),
)

_all_commands: list[st.SearchStrategy[RegistryCommand]] = [
    register([*TYPE_NAMES, "unknown_type"], unique_references=False),
    onboard,
    activate,
    _command(c.Suspend, reason=st.sampled_from(SUSPENSION_REASONS)),
    _command(c.Reinstate),
    _command(c.Offboard, reason=st.sampled_from(OFFBOARDING_REASONS)),
    _command(c.Reengage),
    _command(c.ConvertType, to_type=st.sampled_from([*TYPE_NAMES, "unknown_type"])),
    _command(
        c.UpdateProfile,
        display_name=st.none() | st.sampled_from(["Ada", "Bea"]),
        sponsor=st.none() | st.sampled_from(["emp-1", "emp-2"]),
        business_unit=st.none() | labels,
    ),
    _command(
        c.LinkSourceReference,
        system=st.sampled_from(["okta", "workday"]),
        external_id=st.sampled_from(["x-1", "x-2"]),
    ),
    _command(
        c.AddContract,
        contract_id=contract_ids,
        legal_entity=st.just("Acme"),
        start=days,
        end=maybe_days,
        terms_reference=st.just("doc:1"),
    ),
    _command(
        c.AmendContract,
        contract_id=contract_ids,
        legal_entity=st.none() | st.sampled_from(["Acme", "Beta"]),
        start=maybe_days,
        end=maybe_days,
    ),
    _command(c.ExtendContract, contract_id=contract_ids, new_end=days),
    _command(c.TerminateContract, contract_id=contract_ids, end=days),
    _command(
        c.StartEngagement,
        engagement_id=engagement_ids,
        business_unit=labels,
        sponsor=st.just("emp-1"),
        contract_id=st.none() | contract_ids,
        start=days,
        end=maybe_days,
    ),
    _command(c.EndEngagement, engagement_id=engagement_ids, end=days),
    _command(
        c.RecordCheck,
        check=st.sampled_from(CHECK_NAMES),
        outcome=st.sampled_from(CHECK_OUTCOMES),
        valid_until=maybe_days,
    ),
    grant,
    _command(c.RevokeAccess, grant_id=grant_ids, reason=st.sampled_from(REVOCATION_REASONS)),
    _command(c.EnrolDei, program=st.sampled_from(DEI_PROGRAMS)),
    _command(c.WithdrawDei, program=st.sampled_from(DEI_PROGRAMS)),
    _command(
        c.RecordSelfIdentification,
        key_reference=st.sampled_from(["sid-1", "sid-2"]),
        dimensions=st.lists(st.sampled_from(SELF_ID_DIMENSIONS), min_size=1, max_size=3).map(tuple),
    ),
    _command(c.EraseSelfIdentification),
]

# Commands that open up the rest (onboarding, activation, grants) come up more often, so
# that offboarding with live grants and engagements is common rather than rare.
commands: st.SearchStrategy[RegistryCommand] = st.one_of(
    *_all_commands, *[onboard, activate, grant] * 2
)


steps_apart = st.integers(min_value=0, max_value=72).map(lambda hours: timedelta(hours=hours))
back_dating = st.none() | st.integers(min_value=0, max_value=40).map(lambda d: timedelta(days=d))
