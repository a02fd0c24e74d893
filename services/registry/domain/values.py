"""The vocabulary shared by events, commands and state: closed value sets and string shapes.

Closed sets are `Literal`s so they serialise as plain strings and mypy checks every use.
Widening one is a schema change (old readers would reject the new value), so each set is
meant to be complete for v1; see docs/events.md for the evolution rule.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.registry.domain.types import TYPE_NAME_PATTERN

LifecycleState = Literal["invited", "onboarding", "active", "suspended", "offboarded"]
OwningFunction = Literal[
    "hr",
    "procurement",
    "it",
    "legal",
    "finance",
    "business_unit",
    "developer_relations",
    "business_development",
]
CheckName = Literal[
    "identity_verification",
    "background_check",
    "nda",
    "security_training",
    "right_to_work",
    "tax_form",
    "insurance_certificate",
    "developer_agreement",
    "app_security_review",
    "agent_security_review",
    "misclassification_assessment",
]
CheckOutcome = Literal["passed", "failed", "waived", "pending"]
Classification = Literal["public", "internal", "confidential", "restricted"]
DeiProgram = Literal[
    "inclusion_training",
    "employee_resource_groups",
    "mentoring",
    "accessibility_accommodations",
    "pay_equity_review",
]
# Names of what was answered, never the answers: the values live encrypted elsewhere.
SelfIdDimension = Literal[
    "gender",
    "ethnicity",
    "disability",
    "veteran_status",
    "sexual_orientation",
    "age_band",
    "caregiver_status",
]
# Reason codes rather than free text: events are immutable and free text invites personal data.
SuspensionReason = Literal[
    "compliance_check_failed",
    "compliance_check_expired",
    "contract_lapsed",
    "security_incident",
    "investigation",
    "leave_of_absence",
    "sponsor_request",
    "policy_decision",
    "other",
]
OffboardingReason = Literal[
    "contract_ended",
    "engagement_completed",
    "resigned",
    "dismissed",
    "retired",
    "vendor_relationship_ended",
    "decommissioned",
    "policy_decision",
    "other",
]
RevocationReason = Literal[
    "offboarded",
    "expired",
    "contract_ended",
    "check_failed",
    "suspended",
    "role_change",
    "requested",
    "policy_decision",
    "security_incident",
    "other",
]

LIFECYCLE_STATES: tuple[LifecycleState, ...] = get_args(LifecycleState)
OWNING_FUNCTIONS: tuple[OwningFunction, ...] = get_args(OwningFunction)
CHECK_NAMES: tuple[CheckName, ...] = get_args(CheckName)
CHECK_OUTCOMES: tuple[CheckOutcome, ...] = get_args(CheckOutcome)
CLASSIFICATIONS: tuple[Classification, ...] = get_args(Classification)
DEI_PROGRAMS: tuple[DeiProgram, ...] = get_args(DeiProgram)
SELF_ID_DIMENSIONS: tuple[SelfIdDimension, ...] = get_args(SelfIdDimension)
SUSPENSION_REASONS: tuple[SuspensionReason, ...] = get_args(SuspensionReason)
OFFBOARDING_REASONS: tuple[OffboardingReason, ...] = get_args(OffboardingReason)
REVOCATION_REASONS: tuple[RevocationReason, ...] = get_args(RevocationReason)

_PRINTABLE = r"^[^\x00-\x1F\x7F]*$"

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")]
"""Ids issued by the registry or by the system that owns the thing (contract, grant...)."""
TypeName = Annotated[str, StringConstraints(pattern=TYPE_NAME_PATTERN)]
"""Shape only: whether the type exists is decided against the organisation's ContributorTypes."""
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE)
]
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_PRINTABLE)
]
"""A pointer to a document kept elsewhere (terms, evidence): a URI or a document number."""
EmailAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1F\x7F]+@[^@\s\x00-\x1F\x7F]+\.[^@\s\x00-\x1F\x7F]+$",
    ),
]
SystemName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,49}$")]
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1F\x7F\s]+$")
]


class SourceReference(BaseModel):
    """Where else this contributor is recorded: a system and that system's own id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: SystemName
    external_id: ExternalId
