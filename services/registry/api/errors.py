"""Registry failures as problem details: the domain's refusals and the store's conflicts."""

from __future__ import annotations

from services.registry.adapters.readmodel import ProbableDuplicate, SourceReferenceTaken
from services.registry.domain.errors import (
    AlreadyRegistered,
    ContributorNotFound,
    DomainError,
    IllegalTransition,
    InvalidCommand,
    UnknownContributorType,
)
from services.registry.handlers import VersionMismatch
from shared.eventstore.model import WrongExpectedVersion
from shared.http.conditional import precondition_failed
from shared.http.problems import Problem


def problem_for(error: Exception) -> Problem:
    match error:
        case ContributorNotFound():
            return Problem(404, "contributor-not-found", "Contributor not found", error.message)
        case AlreadyRegistered():
            return Problem(409, "already-registered", "Already registered", error.message)
        case UnknownContributorType():
            return Problem(
                422,
                "unknown-contributor-type",
                "Unknown contributor type",
                error.message,
                code=error.code,
            )
        case IllegalTransition():
            return Problem(
                409,
                "illegal-transition",
                "Illegal lifecycle transition",
                error.message,
                code=error.code,
            )
        case InvalidCommand():
            return Problem(
                422, "command-refused", "Command refused", error.message, code=error.reason
            )
        case DomainError():
            return Problem(
                422, "command-refused", "Command refused", error.message, code=error.code
            )
        case VersionMismatch():
            return precondition_failed(error.current)
        case WrongExpectedVersion():
            return Problem(
                409,
                "concurrent-modification",
                "Concurrent modification",
                "the contributor changed while this request was processed: retry",
            )
        case ProbableDuplicate():
            return Problem(
                409,
                "probable-duplicate",
                "Probable duplicate",
                f"a contributor with the same {error.matched_on} exists: "
                f"{error.existing_id}; link to it instead of registering again",
                existing_contributor_id=error.existing_id,
            )
        case SourceReferenceTaken():
            return Problem(
                409,
                "source-reference-taken",
                "Source reference taken",
                f"{error.reference.system}:{error.reference.external_id} already "
                f"belongs to contributor {error.owner}",
                existing_contributor_id=error.owner,
            )
    raise error


REGISTRY_ERRORS = (
    DomainError,
    VersionMismatch,
    WrongExpectedVersion,
    ProbableDuplicate,
    SourceReferenceTaken,
)
