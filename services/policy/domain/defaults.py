"""The handbook's rules table (domain.md) as a policy document, in the JSON an author writes.

Choices the table leaves open (grace periods, validity, consequences per check, which
types need a contract) are explained in docs/policy.md.
"""

from __future__ import annotations

from typing import Any, get_args

from services.registry.domain.values import DeiProgram


def _check(grace: int = 0, validity: int | None = None, then: str | None = None) -> Any:
    spec: dict[str, Any] = {"grace_days": grace, "validity_days": validity}
    return spec if then is None else spec | {"consequence": then}


_ALL_PROGRAMS: list[str] = list(get_args(DeiProgram))

DEFAULT_RULES: dict[str, Any] = {
    "mode": "enforced",
    "reminder_offsets_days": [30, 14, 7],
    "types": {
        "employee": {
            "compliance": {
                "strictness": "standard",
                "checks": {
                    "identity_verification": _check(),
                    "background_check": _check(14),
                    "nda": _check(),
                    "security_training": _check(30, 365, "notify"),
                },
            },
            "dei_programs": _ALL_PROGRAMS,
            "access": {"ceiling": "restricted"},
        },
        "contractor": {
            "compliance": {
                "strictness": "strict",
                "checks": {
                    "identity_verification": _check(),
                    "background_check": _check(0, 365),
                    "nda": _check(),
                    "security_training": _check(30, 365),
                    "misclassification_assessment": _check(30, 365),
                },
            },
            "dei_programs": ["inclusion_training", "accessibility_accommodations"],
            "access": {
                "ceiling": "confidential",
                "max_grant_days": 90,
                "approval_required": True,
            },
        },
        "agency_worker": {
            "compliance": {
                "strictness": "standard",
                "checks": {
                    "identity_verification": _check(),
                    "nda": _check(),
                    "security_training": _check(30, 365, "notify"),
                },
            },
            "dei_programs": [
                "inclusion_training",
                "accessibility_accommodations",
                "employee_resource_groups",
            ],
            "access": {"ceiling": "internal", "max_grant_days": 180},
        },
        "gig_worker": {
            "compliance": {
                "strictness": "light",
                "checks": {
                    "identity_verification": _check(0, None, "block_activation"),
                    "tax_form": _check(30, 365),
                },
            },
            "dei_programs": ["accessibility_accommodations"],
            "access": {"ceiling": "public", "max_grant_days": 14},
        },
        "subcontractor": {
            "compliance": {
                "strictness": "standard",
                "checks": {"insurance_certificate": _check(14, 365), "nda": _check()},
            },
            "access": {"ceiling": "internal"},
        },
        "partner": {
            "compliance": {"strictness": "light", "checks": {"nda": _check(14)}},
            "dei_programs": ["employee_resource_groups"],
            "access": {"ceiling": "internal"},
        },
        "app_developer": {
            "compliance": {
                "strictness": "strict",
                "checks": {
                    "developer_agreement": _check(),
                    "app_security_review": _check(0, 365),
                },
            },
            "access": {
                "ceiling": "public",
                "max_grant_days": 365,
                "allowed_systems": ["developer_portal", "sandbox"],
                "requires_contract": False,
            },
        },
        "digital_agent": {
            "compliance": {
                "strictness": "strict",
                "checks": {"agent_security_review": _check(0, 180)},
            },
            "access": {
                "ceiling": "internal",
                "max_grant_days": 30,
                "approval_required": True,
                "requires_contract": False,
            },
        },
    },
}
