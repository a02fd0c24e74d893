"""The demo's reference data: who the eight contributor types are in a typical organisation
(owner, system of record, checks, access, DEI reach), and the names the stories use.

The per-type figures follow the handbook's example table, so the policy service, run
with its default policy, finds both compliant contributors and realistic findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.registry.domain.values import CheckName, Classification, DeiProgram, OwningFunction


@dataclass(frozen=True, slots=True)
class Profile:
    """How one contributor type typically lives; the shares are fractions of the demo."""

    name: str
    share: float
    kind: str  # "person", "firm" or "agent": decides DEI and names
    owner: OwningFunction
    system: str  # the system of record that registers this type (source reference system)
    source: str  # CloudEvents source of that system
    checks: tuple[tuple[CheckName, int | None], ...]  # (check, validity in days; None: none)
    classifications: tuple[Classification, ...]  # what is usually granted (ceiling last)
    grant_days: int | None  # longest grant the type gets; None: no expiry
    dei: tuple[DeiProgram, ...]
    contract_months: tuple[int, int] | None  # planned length; None: open-ended
    reengage: float  # chance that an offboarded contributor comes back later


EMPLOYEE_CHECKS: tuple[tuple[CheckName, int | None], ...] = (
    ("identity_verification", None),
    ("background_check", 730),
    ("nda", None),
    ("security_training", 365),
    ("right_to_work", 1095),
)

PROFILES: tuple[Profile, ...] = (
    Profile(
        "employee", 0.40, "person", "hr", "workday", "/hr/workday", EMPLOYEE_CHECKS,
        ("internal", "confidential", "restricted"), None,
        ("inclusion_training", "employee_resource_groups", "mentoring",
         "accessibility_accommodations", "pay_equity_review"),
        None, 0.10,
    ),
    Profile(
        "contractor", 0.18, "person", "procurement", "fieldglass", "/vms/fieldglass",
        (("identity_verification", None), ("background_check", 365), ("nda", None),
         ("security_training", 365), ("misclassification_assessment", 365)),
        ("internal", "confidential"), 90,
        ("inclusion_training", "accessibility_accommodations"), (3, 12), 0.25,
    ),
    Profile(
        "agency_worker", 0.12, "person", "procurement", "fieldglass", "/vms/fieldglass",
        (("identity_verification", None), ("nda", None), ("security_training", 365)),
        ("public", "internal"), 180,
        ("inclusion_training", "accessibility_accommodations", "employee_resource_groups"),
        (2, 9), 0.30,
    ),
    Profile(
        "gig_worker", 0.12, "person", "procurement", "gigconnect", "/gig/connector",
        (("identity_verification", None), ("tax_form", 365)),
        ("public",), 14, ("accessibility_accommodations",), (1, 2), 0.60,
    ),
    Profile(
        "subcontractor", 0.04, "firm", "procurement", "fieldglass", "/vms/fieldglass",
        (("insurance_certificate", 365), ("nda", None)),
        ("public", "internal"), None, (), (6, 18), 0.15,
    ),
    Profile(
        "partner", 0.04, "person", "business_development", "prm", "/partners/prm",
        (("nda", None),), ("public", "internal"), None, ("employee_resource_groups",),
        (12, 24), 0.10,
    ),
    Profile(
        "app_developer", 0.06, "person", "developer_relations", "devportal", "/devportal",
        (("developer_agreement", None), ("app_security_review", 365)),
        ("public",), 365, (), (12, 12), 0.20,
    ),
    Profile(
        "digital_agent", 0.04, "agent", "it", "servicenow", "/cmdb/servicenow",
        (("agent_security_review", 180),), ("public", "internal"), 30, (), None, 0.05,
    ),
)  # fmt: skip
BY_NAME = {p.name: p for p in PROFILES}

# Systems that post facts about contributors they did not register.
CHECKS_SOURCE = "/checks/sterling"
ACCESS_SOURCE = "/iam/sailpoint"
CONTRACTS_SOURCE = "/contracts/ironclad"

BUSINESS_UNITS: dict[str, tuple[str, ...]] = {
    "Logistics": ("Route planning", "Warehouse automation", "Last mile"),
    "Retail": ("Store refit", "Loyalty app", "Pricing"),
    "Finance Operations": ("Close automation", "Invoice intake"),
    "Platform Engineering": ("Developer platform", "Identity", "Data lake", "Public API"),
    "Customer Care": ("Contact centre", "Self-service"),
    "Marketing": ("Brand refresh", "Campaigns"),
    "Research": ("Forecasting", "Materials"),
}

RESOURCES: dict[Classification, tuple[str, ...]] = {
    "public": ("wiki:public-handbook", "sandbox:developer-api", "portal:partner-news"),
    "internal": ("slack:workspace", "jira:projects", "confluence:spaces", "wms:warehouse"),
    "confidential": ("erp:finance-reports", "crm:accounts", "github:source"),
    "restricted": ("hris:compensation", "prod:database-admin", "vault:payment-keys"),
}

LEGAL_ENTITIES = ("Acme Corp Inc.", "Acme Europe GmbH", "Acme UK Ltd")
AGENCIES = ("Randstad", "Adecco", "Hays", "Manpower")
PLATFORMS = ("Upwork", "Fiverr", "Malt")

GIVEN = (
    "Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Dennis",
    "Frances", "Ken", "Radia", "Edsger", "Hedy", "John", "Shafi", "Donald", "Sophie", "Yukihiro",
    "Anita", "Guido", "Joan", "Niklaus", "Adele", "Bjarne", "Lynn", "James", "Mary", "Vint",
    "Ruth", "Amara", "Kofi", "Mei", "Ravi", "Lucia", "Omar", "Ingrid", "Tariq", "Noor", "Elena",
)  # fmt: skip
FAMILY = (
    "Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee", "Liskov",
    "Ritchie", "Allen", "Thompson", "Perlman", "Dijkstra", "Lamarr", "McCarthy", "Goldwasser",
    "Knuth", "Wilson", "Matsumoto", "Borg", "van Rossum", "Clarke", "Wirth", "Goldberg",
    "Stroustrup", "Conway", "Gosling", "Keller", "Cerf", "Nussenzweig", "Okafor", "Mensah",
    "Chen", "Iyer", "Fernandez", "Haddad", "Larsen", "Rahman", "Aziz", "Petrova",
)  # fmt: skip
FIRM_WORDS = (
    "Nordwind", "Blue Harbor", "Summit", "Kestrel", "Ironbridge", "Lumen", "Cobalt", "Meridian",
    "Arcadia", "Granite", "Solace", "Vertex",
)  # fmt: skip
FIRM_TRADES = ("Logistics", "Facilities", "Security Services", "Engineering", "Couriers")
AGENT_ROLES = (
    "invoice-matcher", "ticket-triage", "payroll-reconciler", "build-bot", "fraud-screener",
    "catalogue-sync", "report-writer", "access-reviewer",
)  # fmt: skip
