"""Reports: pure functions over table rows (dicts of key and value columns) and parameters.

Each takes the rows of the tables it names, never a database; the API layer fetches the
rows (narrowed by contributor type or key where it can) and calls these.
"""

from services.reporting.projections.reports.access import (
    access_after_end,
    external_sensitive_access,
    grants_without_expiry,
)
from services.reporting.projections.reports.common import end_of_day
from services.reporting.projections.reports.compliance import compliance_posture, overdue_checks
from services.reporting.projections.reports.composition import composition, composition_series
from services.reporting.projections.reports.dei import (
    DemographicCount,
    dei_coverage,
    demographic_release,
)
from services.reporting.projections.reports.integration import (
    access_without_contract,
    accountability_gaps,
    conflicting_owners,
    probable_duplicates,
)
from services.reporting.projections.reports.lifecycle import (
    contracts_ending,
    conversions,
    engagement_flow,
    reengagements,
    time_to_onboard,
)
from services.reporting.projections.reports.suppression import SuppressedTable, suppress

__all__ = [
    "DemographicCount",
    "SuppressedTable",
    "access_after_end",
    "access_without_contract",
    "accountability_gaps",
    "compliance_posture",
    "composition",
    "composition_series",
    "conflicting_owners",
    "contracts_ending",
    "conversions",
    "dei_coverage",
    "demographic_release",
    "end_of_day",
    "engagement_flow",
    "external_sensitive_access",
    "grants_without_expiry",
    "overdue_checks",
    "probable_duplicates",
    "reengagements",
    "suppress",
    "time_to_onboard",
]
