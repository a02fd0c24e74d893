"""SCIM discovery (RFC 7643 §5-7): what this service provider supports, stated accurately.

The schemas list only the attributes the registry keeps or derives; docs/scim.md names the
ones it accepts and ignores.
"""

from __future__ import annotations

from typing import Any

from services.registry.domain.types import ContributorTypes
from services.registry.domain.values import LIFECYCLE_STATES, OWNING_FUNCTIONS

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CONTRIBUTOR_USER = "urn:workforce:scim:schemas:extension:contributor:1.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SERVICE_PROVIDER_CONFIG_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

PREFIX = "/scim/v2"
MAX_RESULTS = 200


def _attr(
    name: str,
    description: str,
    *,
    type_: str = "string",
    multi: bool = False,
    required: bool = False,
    case_exact: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    canonical: list[str] | None = None,
    sub: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    }
    if canonical is not None:
        found["canonicalValues"] = canonical
    if sub is not None:
        found["subAttributes"] = sub
    return found


def schemas(types: ContributorTypes, base: str) -> list[dict[str, Any]]:
    type_names = sorted(types.names)
    core = [
        _attr(
            "userName",
            "The sign-in name. An email address is the contributor's email; any other value "
            "is kept as this identity provider's reference and cannot change afterwards.",
            required=True,
            uniqueness="server",
        ),
        _attr(
            "name",
            "Derived from displayName on read; on write, formatted (or givenName and "
            "familyName of a whole name) sets displayName when displayName is absent.",
            type_="complex",
            sub=[
                _attr("formatted", "The full name: the contributor's display name."),
                _attr("givenName", "Accepted on write, not stored."),
                _attr("familyName", "Accepted on write, not stored."),
            ],
        ),
        _attr("displayName", "The contributor's display name."),
        _attr(
            "userType",
            "The contributor type; a change converts the contributor, keeping its identity.",
            canonical=type_names,
        ),
        _attr(
            "active",
            "True when the lifecycle is active. false suspends an active contributor; true "
            "activates, reinstates or re-engages.",
            type_="boolean",
        ),
        _attr(
            "emails",
            "The contributor's one email address (work, primary). Ignored on write when "
            "userName is itself an email address.",
            type_="complex",
            multi=True,
            sub=[
                _attr("value", "The email address."),
                _attr("type", "Always work.", canonical=["work"]),
                _attr("primary", "Always true.", type_="boolean"),
            ],
        ),
    ]
    enterprise = [
        _attr("department", "The contributor's business unit."),
        _attr(
            "manager",
            "The contributor's sponsor, the accountable person inside the organisation.",
            type_="complex",
            sub=[_attr("value", "The sponsor's id (a User id).", case_exact=True)],
        ),
    ]
    contributor = [
        _attr("contributorType", "Same as userType.", canonical=type_names),
        _attr(
            "owningFunction",
            "The function that owns the relationship.",
            canonical=list(OWNING_FUNCTIONS),
        ),
        _attr(
            "lifecycle",
            "The lifecycle state.",
            mutability="readOnly",
            canonical=list(LIFECYCLE_STATES),
        ),
        _attr("sponsor", "Same as the enterprise manager.value.", case_exact=True),
        _attr("businessUnit", "Same as the enterprise department."),
    ]
    documents = [
        (CORE_USER, "User", "User account", core),
        (ENTERPRISE_USER, "EnterpriseUser", "Enterprise user", enterprise),
        (CONTRIBUTOR_USER, "ContributorUser", "Workforce contributor", contributor),
    ]
    return [
        {
            "schemas": [SCHEMA_URN],
            "id": urn,
            "name": name,
            "description": description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base}{PREFIX}/Schemas/{urn}"},
        }
        for urn, name, description, attributes in documents
    ]


def user_resource_type(base: str) -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE_URN],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A contributor of the workforce ecosystem",
        "schema": CORE_USER,
        "schemaExtensions": [
            {"schema": ENTERPRISE_USER, "required": False},
            {"schema": CONTRIBUTOR_USER, "required": False},
        ],
        "meta": {"resourceType": "ResourceType", "location": f"{base}{PREFIX}/ResourceTypes/User"},
    }


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A bearer JWT with the scope scim (minted with wfe token create)",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}{PREFIX}/ServiceProviderConfig",
        },
    }


def list_response(
    resources: list[dict[str, Any]], total: int, start_index: int = 1
) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "startIndex": start_index,
        "Resources": resources,
    }
