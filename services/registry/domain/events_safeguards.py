"""Compliance checks, access grants, DEI programs and self-identification.

Self-identification events never hold demographic values: those are encrypted and kept by
another module; the events only say that an answer set exists, under which key, and which
dimensions it covers, so erasing the key erases the answers while history stays intact.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from services.registry.domain.events_lifecycle import PREFIX
from services.registry.domain.values import (
    CheckName,
    CheckOutcome,
    Classification,
    DeiProgram,
    Identifier,
    Reference,
    RevocationReason,
    SelfIdDimension,
)
from shared.catalogue import EventPayload


class CheckRecorded(EventPayload):
    """The latest result of one check; it replaces any earlier result of the same check."""

    TYPE: ClassVar[str] = PREFIX + "check_recorded.v1"

    check: CheckName
    outcome: CheckOutcome
    valid_until: date | None = None
    """Last day the result counts; None: no expiry. Only passed or waived results have one."""
    evidence_reference: Reference | None = None

    @model_validator(mode="after")
    def _validity_needs_a_pass(self) -> Self:
        if self.valid_until is not None and self.outcome not in ("passed", "waived"):
            raise ValueError("only passed or waived results have a validity date")
        return self


class AccessGranted(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "access_granted.v1"

    grant_id: Identifier
    resource: Reference
    classification: Classification
    expires_at: AwareDatetime | None = None


class AccessRevoked(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "access_revoked.v1"

    grant_id: Identifier
    reason: RevocationReason


class DeiProgramEnrolled(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "dei_program_enrolled.v1"

    program: DeiProgram


class DeiProgramWithdrawn(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "dei_program_withdrawn.v1"

    program: DeiProgram


class SelfIdentificationRecorded(EventPayload):
    TYPE: ClassVar[str] = PREFIX + "self_identification_recorded.v1"

    key_reference: Identifier
    dimensions: tuple[SelfIdDimension, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_dimensions(self) -> Self:
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError("dimensions must be unique")
        return self


class SelfIdentificationErased(EventPayload):
    """The answers under `key_reference` were destroyed (crypto-shredded)."""

    TYPE: ClassVar[str] = PREFIX + "self_identification_erased.v1"

    key_reference: Identifier
