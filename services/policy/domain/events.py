"""The policy decision catalogue: what policy publishes on `workforce.policy.decisions.v1`.

Decisions about a contributor live in that contributor's decision stream (the CloudEvents
`subject` is the contributor id) and each one says which policy (`policy_hash`) and which
version of the contributor's registry stream (`based_on_version`) it was derived from, so
any decision can be re-derived and audited. Decisions made under a `record_only` or `draft`
policy are recorded with `enforced: false`: downstream systems log them and act on none.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.policy.domain.document import Consequence, Mode, hash_json
from services.policy.domain.evaluation import (
    ComplianceStatus,
    ReminderKind,
    RevocationReason,
    ViolationKind,
)
from services.registry.domain.values import CheckName, Classification, DeiProgram, Label
from shared.catalogue import Catalogue, EventPayload

PREFIX = "org.workforce.policy."

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
AccessAction = Literal["access", "read", "write"]


class PolicyPublished(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "policy_published.v1"

    version: int = Field(ge=1)
    author: Label
    reason: Label
    content_hash: Sha256
    mode: Mode
    document: dict[str, Any] | None = None
    """The normalised document, so the policy history alone can restore every version."""

    @model_validator(mode="after")
    def _hash_matches(self) -> Self:
        if self.document is not None:
            if hash_json(self.document) != self.content_hash:
                raise ValueError("content_hash is not the hash of document")
            if self.document.get("mode") != self.mode:
                raise ValueError("mode differs from the document's mode")
        return self


class PolicyDecision(EventPayload):
    """What every decision about a contributor carries."""

    policy_hash: Sha256
    based_on_version: int = Field(ge=0)
    mode: Mode
    enforced: bool
    as_of: date
    """The day the decision was evaluated for (today, or the day simulated)."""

    @model_validator(mode="after")
    def _enforced_only_when_enforcing(self) -> Self:
        if self.enforced != (self.mode == "enforced"):
            raise ValueError("enforced must be true exactly when mode is enforced")
        return self


class RequirementFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: CheckName
    consequence: Consequence
    due: date | None = None


class RequirementsAssigned(PolicyDecision):
    """The full set of checks required now (empty: none any more)."""

    TYPE: ClassVar[str] = PREFIX + "requirements_assigned.v1"

    contributor_type: str
    requirements: tuple[RequirementFacts, ...]


class ComplianceStatusChanged(PolicyDecision):
    TYPE: ClassVar[str] = PREFIX + "compliance_status_changed.v1"

    status: ComplianceStatus
    previous_status: ComplianceStatus | None = None
    missing: tuple[CheckName, ...] = ()
    failed: tuple[CheckName, ...] = ()
    expired: tuple[CheckName, ...] = ()
    in_grace: tuple[CheckName, ...] = ()


class _AccessAnswered(PolicyDecision):
    resource: str = Field(min_length=1, max_length=500)
    classification: Classification
    action: AccessAction
    reasons: tuple[str, ...]
    """The ids of the Cedar policies that decided."""


class AccessGranted(_AccessAnswered):
    """A synchronous access check was answered yes (optional to record)."""

    TYPE: ClassVar[str] = PREFIX + "access_granted.v1"


class AccessDenied(_AccessAnswered):
    TYPE: ClassVar[str] = PREFIX + "access_denied.v1"


class AccessRevocationRequired(PolicyDecision):
    TYPE: ClassVar[str] = PREFIX + "access_revocation_required.v1"

    grant_id: str
    resource: str
    classification: Classification
    reason: RevocationReason
    """The first of `reasons`: the one to quote."""
    reasons: tuple[RevocationReason, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _reason_is_first(self) -> Self:
        if self.reason != self.reasons[0]:
            raise ValueError("reason must be the first of reasons")
        return self


class DeiProgramsExtended(PolicyDecision):
    """The programs now extended to the contributor's type (empty: none)."""

    TYPE: ClassVar[str] = PREFIX + "dei_programs_extended.v1"

    programs: tuple[DeiProgram, ...]
    added: tuple[DeiProgram, ...] = ()
    removed: tuple[DeiProgram, ...] = ()


class ViolationDetected(PolicyDecision):
    TYPE: ClassVar[str] = PREFIX + "violation_detected.v1"

    kind: ViolationKind
    subject_ref: str
    """What the violation is about: a grant id, a check name, a program, a type."""
    since: date | None = None
    days: int | None = Field(default=None, ge=0)
    details: dict[str, str] = Field(default_factory=dict)


class ViolationResolved(PolicyDecision):
    """A violation reported earlier no longer holds (the grant was revoked, the check done)."""

    TYPE: ClassVar[str] = PREFIX + "violation_resolved.v1"

    kind: ViolationKind
    subject_ref: str


class ReminderDue(PolicyDecision):
    TYPE: ClassVar[str] = PREFIX + "reminder_due.v1"

    kind: ReminderKind
    subject_ref: str
    target_date: date
    offset_days: int = Field(ge=1)
    days_left: int = Field(ge=0)


DecisionEvent = (
    RequirementsAssigned
    | ComplianceStatusChanged
    | AccessGranted
    | AccessDenied
    | AccessRevocationRequired
    | DeiProgramsExtended
    | ViolationDetected
    | ViolationResolved
    | ReminderDue
)

EVENT_CLASSES: tuple[type[EventPayload], ...] = (
    PolicyPublished,
    RequirementsAssigned,
    ComplianceStatusChanged,
    AccessGranted,
    AccessDenied,
    AccessRevocationRequired,
    DeiProgramsExtended,
    ViolationDetected,
    ViolationResolved,
    ReminderDue,
)

catalogue = Catalogue()
for _cls in EVENT_CLASSES:
    catalogue.register(_cls)
