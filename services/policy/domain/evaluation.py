"""What evaluating one contributor against one policy on one day yields: plain frozen values.

Every part is ordered deterministically, so two evaluations of the same inputs are equal
and `decisions` can compare them part by part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, NamedTuple

from services.policy.domain.document import Consequence, Mode
from services.registry.domain.values import CheckName, Classification, DeiProgram

CheckState = Literal["valid", "missing", "overdue", "failed", "in_grace", "expired"]
"""missing: not done (or pending at the vendor) and not yet due; overdue: missing past its
due date while active; in_grace: past validity but within the grace period; expired: past
the grace period too."""
ComplianceStatus = Literal["compliant", "pending", "non_compliant", "expired"]
RevocationReason = Literal[
    "offboarded",
    "contract_ended",
    "non_compliant",
    "over_ceiling",
    "expired",
    "not_allowed_system",
    "over_max_duration",
]
ViolationKind = Literal[
    "access_after_contract_end",
    "access_after_offboarding",
    "access_without_contract",
    "active_without_required_check",
    "type_not_covered",
    "dei_enrolment_not_extended",
]
ReminderKind = Literal["contract_end", "check_expiry", "grant_expiry"]
TimerKind = Literal[
    "contract_start",
    "contract_end",
    "contract_lapsed",
    "offboarding_lapsed",
    "check_expiry",
    "check_due",
    "grant_expiry",
    "reminder.contract_end",
    "reminder.check_expiry",
    "reminder.grant_expiry",
]

LAPSED: frozenset[CheckState] = frozenset({"overdue", "failed", "expired"})
"""States in which a check's consequence applies."""


@dataclass(frozen=True, slots=True)
class Requirement:
    check: CheckName
    consequence: Consequence
    due: date | None
    """Last day before the consequence applies (for a check on file: its last valid day
    plus grace); None: nothing is due (no expiry) or it already applies (failed)."""
    state: CheckState
    valid_until: date | None = None
    """The last day the result on file counts, after the policy's own validity limit."""


@dataclass(frozen=True, slots=True)
class Compliance:
    status: ComplianceStatus
    missing: tuple[CheckName, ...] = ()
    failed: tuple[CheckName, ...] = ()
    expired: tuple[CheckName, ...] = ()
    in_grace: tuple[CheckName, ...] = ()
    suspends_access: bool = False
    """A lapsed check whose consequence is suspend_access: every grant must go."""
    blocking: tuple[CheckName, ...] = ()
    """block_activation checks not satisfied: the contributor may not be activated."""


@dataclass(frozen=True, slots=True)
class GrantVerdict:
    grant_id: str
    resource: str
    classification: Classification
    expires_at: datetime | None
    revoke: tuple[RevocationReason, ...] = ()
    """Why the grant must be revoked; empty: it may be kept."""

    @property
    def must_revoke(self) -> bool:
        return bool(self.revoke)


@dataclass(frozen=True, slots=True, order=True)
class Violation:
    kind: ViolationKind
    subject_ref: str
    since: date | None = None
    """First day of the violation, when it has one (the day after the contract ended)."""
    days: int | None = None
    """Days it has lasted up to and including the evaluation day."""


@dataclass(frozen=True, slots=True, order=True)
class Reminder:
    kind: ReminderKind
    subject_ref: str
    target: date
    """The last day of the contract, check result or grant."""
    offset_days: int


class Timer(NamedTuple):
    """A day on which evaluating again can give a different answer. A plain tuple: a
    publication makes a score of them per contributor, and tuples are built, hashed and
    ordered in C."""

    due: date
    kind: TimerKind
    subject_ref: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    contributor_id: str
    contributor_type: str
    policy_hash: str
    mode: Mode
    based_on_version: int
    as_of: date
    requirements: tuple[Requirement, ...]
    compliance: Compliance
    dei_programs: tuple[DeiProgram, ...]
    grants: tuple[GrantVerdict, ...]
    violations: tuple[Violation, ...]
    reminders: tuple[Reminder, ...]
    """Reminders due on `as_of`: per subject, the closest offset already reached."""

    @property
    def enforced(self) -> bool:
        return self.mode == "enforced"

    @property
    def revocations(self) -> tuple[GrantVerdict, ...]:
        return tuple(g for g in self.grants if g.must_revoke)
