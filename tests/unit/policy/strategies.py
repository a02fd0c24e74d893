"""Hypothesis strategies: random policy documents and random registry histories.

Histories mix real registry payloads with unknown event types and payloads policy cannot
read, because `apply` and `evaluate` must hold up against whatever arrives on the topic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from hypothesis import strategies as st

from services.policy.domain.document import CONSEQUENCES, MODES, STRICTNESS_LEVELS, PolicyDocument
from services.registry.domain import events as r
from services.registry.domain.events_work import ContractFacts
from services.registry.domain.values import (
    CHECK_NAMES,
    CHECK_OUTCOMES,
    CLASSIFICATIONS,
    DEI_PROGRAMS,
)

TYPE_NAMES = ["contractor", "employee", "partner", "digital_agent"]
SYSTEMS = ["crm", "wiki", "sandbox"]
days = st.dates(min_value=date(2024, 10, 1), max_value=date(2025, 12, 31))
maybe_days = st.none() | days


def _unique(elements: st.SearchStrategy[Any], max_size: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(elements, max_size=max_size, unique=True)


required_check = st.fixed_dictionaries(
    {
        "validity_days": st.none() | st.integers(1, 400),
        "grace_days": st.integers(0, 40),
        "consequence": st.sampled_from(CONSEQUENCES),
    }
)
type_rules = st.fixed_dictionaries(
    {
        "compliance": st.fixed_dictionaries(
            {
                "strictness": st.sampled_from(STRICTNESS_LEVELS),
                "checks": st.dictionaries(st.sampled_from(CHECK_NAMES), required_check, max_size=4),
            }
        ),
        "dei_programs": _unique(st.sampled_from(DEI_PROGRAMS), 3),
        "access": st.fixed_dictionaries(
            {
                "ceiling": st.sampled_from(CLASSIFICATIONS),
                "max_grant_days": st.none() | st.integers(1, 400),
                "approval_required": st.booleans(),
                "allowed_systems": st.just("*") | _unique(st.sampled_from(SYSTEMS), 2),
                "requires_contract": st.booleans(),
            }
        ),
    }
)
policies = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(MODES),
        "reminder_offsets_days": _unique(st.integers(1, 60), 3),
        "types": st.dictionaries(st.sampled_from(TYPE_NAMES), type_rules, max_size=4),
    }
).map(PolicyDocument.model_validate)

_contract = {
    "contract_id": st.sampled_from(["k-1", "k-2"]),
    "legal_entity": st.just("Example Ltd"),
    "terms_reference": st.just("MSA-1"),
}


def _ordered_contract(cls: type[ContractFacts], open_end: bool) -> st.SearchStrategy[Any]:
    ends = (st.none() | days) if open_end else days
    return st.builds(
        lambda start, end, **kw: cls(start=min(start, end or start), end=end, **kw),
        days,
        ends,
        **_contract,
    )


payloads: st.SearchStrategy[Any] = st.one_of(
    st.builds(
        r.Registered,
        contributor_id=st.just("c-1"),
        contributor_type=st.sampled_from([*TYPE_NAMES, "gig_worker"]),
        display_name=st.just("Ada"),
        owning_function=st.just("hr"),
        sponsor=st.just("emp-1"),
        business_unit=st.just("Logistics"),
    ),
    st.sampled_from(
        [
            r.OnboardingStarted(),
            r.Activated(),
            r.Reinstated(),
            r.Reengaged(),
            r.Suspended(reason="other"),
            r.Offboarded(reason="other"),
        ]
    ),
    st.builds(
        r.TypeConverted,
        from_type=st.just("gig_worker"),
        to_type=st.sampled_from(TYPE_NAMES),
    ),
    _ordered_contract(r.ContractAdded, open_end=True),
    _ordered_contract(r.ContractTerminated, open_end=False),
    st.builds(
        lambda check, outcome, until: r.CheckRecorded(
            check=check,
            outcome=outcome,
            valid_until=until if outcome in ("passed", "waived") else None,
        ),
        st.sampled_from(CHECK_NAMES),
        st.sampled_from(CHECK_OUTCOMES),
        maybe_days,
    ),
    st.builds(
        r.AccessGranted,
        grant_id=st.sampled_from(["g-1", "g-2", "g-3"]),
        resource=st.sampled_from(SYSTEMS),
        classification=st.sampled_from(CLASSIFICATIONS),
        expires_at=st.none() | days.map(lambda d: datetime.combine(d, time(17), tzinfo=UTC)),
    ),
    st.builds(r.AccessRevoked, grant_id=st.sampled_from(["g-1", "g-2"]), reason=st.just("expired")),
    st.builds(r.DeiProgramEnrolled, program=st.sampled_from(DEI_PROGRAMS)),
)

raw_events: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    payloads.map(lambda p: (p.TYPE, p.model_dump(mode="json"))),
    st.tuples(st.sampled_from([r.CheckRecorded.TYPE, r.AccessGranted.TYPE]), st.just({"x": 1})),
    st.tuples(st.just("org.example.unrelated.v1"), st.just({})),
)
histories = st.lists(st.tuples(raw_events, days), max_size=14)
