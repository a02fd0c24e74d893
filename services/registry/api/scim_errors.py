"""SCIM error responses (RFC 7644 §3.12) and the translation of everything a SCIM route can
raise — registry refusals, shared problems, validation failures — into them.

The app renders errors as problem+json; identity providers only understand SCIM errors, so
SCIM routes catch and translate instead of letting the app-wide handlers answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.registry.adapters.readmodel import ProbableDuplicate, SourceReferenceTaken
from services.registry.domain.errors import (
    AlreadyRegistered,
    ContributorNotFound,
    DomainError,
    IllegalTransition,
    UnknownContributorType,
)
from services.registry.handlers import VersionMismatch
from shared.eventstore.model import WrongExpectedVersion
from shared.http.conditional import etag
from shared.http.problems import Problem

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"

ScimType = Literal[
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
]


class ScimError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: ScimType | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return scim_response(body, self.status, self.headers)


def scim_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(body, status, headers=dict(headers or {}), media_type=SCIM_JSON)


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def not_found(user_id: str) -> ScimError:
    return ScimError(404, f"no User {user_id!r}")


def stale(current: int) -> ScimError:
    return ScimError(
        412,
        "the User has changed since you read it: GET it again and retry",
        headers={"ETag": weak_etag(current)},
    )


def weak_etag(version: int) -> str:
    # Weak: the representation of one version can vary (e.g. with the caller's externalId).
    return f"W/{etag(version)}"


def scim_error_for(error: Exception, *, if_match_sent: bool = False) -> ScimError:
    """The SCIM error for anything a SCIM route may raise; re-raises what is a bug."""
    match error:
        case ScimError():
            return error
        case ContributorNotFound():
            return not_found(error.contributor_id)
        case AlreadyRegistered():
            return ScimError(409, error.message, "uniqueness")
        case ProbableDuplicate():
            return ScimError(
                409,
                f"a User with the same {error.matched_on} exists: {error.existing_id}",
                "uniqueness",
            )
        case SourceReferenceTaken():
            return ScimError(
                409,
                f"externalId {error.reference.external_id!r} already belongs to {error.owner}",
                "uniqueness",
            )
        case UnknownContributorType():
            return invalid_value(error.message)
        case IllegalTransition():
            return ScimError(409, error.message)
        case DomainError():
            return invalid_value(error.message)
        case VersionMismatch() if if_match_sent:
            return stale(error.current)
        case VersionMismatch() | WrongExpectedVersion():
            return ScimError(409, "the User changed while this request was processed: retry")
        case ValidationError():
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "request"
            return invalid_value(f"{where}: {first['msg']}")
        case Problem():
            scim_type: ScimType | None = "invalidValue" if error.status == 400 else None
            return ScimError(error.status, error.detail, scim_type, error.headers)
    raise error
