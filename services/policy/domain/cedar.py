"""Synchronous access decisions ("may X access Y now?") with AWS Cedar, through cedarpy.

The Cedar policy set is generated from the PolicyDocument (see `cedar_policies`), checked
against the schema once and kept parsed per policy hash. The principal carries what the
registry and evaluation know of the contributor; the resource is a system with its
classification rank; the context holds the day and the approvals given.

Cedar skips a policy whose evaluation errors, which for a `forbid` would mean allowing.
So any error cedarpy reports, a request that does not match the schema included, becomes
a `PolicyEvaluationError`: an access check either answers or fails loudly, never open.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import cedarpy

from services.policy.domain.cedar_policies import NO_PERMIT, SCHEMA, generate, generate_for
from services.policy.domain.coverage import coverage
from services.policy.domain.document import Mode, PolicyDocument, content_hash, rank
from services.policy.domain.evaluate import assess
from services.policy.domain.evaluation import LAPSED
from services.policy.domain.events import AccessAction, AccessDenied, AccessGranted
from services.policy.domain.view import PolicyView
from services.registry.domain.values import Classification

_OPEN_END = date.max.toordinal()


class PolicyEvaluationError(Exception):
    """Cedar could not evaluate: bad generated text, schema mismatch, evaluation error."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message if not errors else f"{message}: {'; '.join(errors)}")
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class AccessRequest:
    resource: str
    classification: Classification
    action: AccessAction = "access"


@dataclass(frozen=True)
class AccessAnswer:
    permit: bool
    reasons: list[str]
    """The `@id`s of the Cedar rules that decided, sorted."""
    request: AccessRequest
    policy_hash: str
    based_on_version: int
    as_of: date
    mode: Mode = "enforced"

    @property
    def enforced(self) -> bool:
        return self.mode == "enforced"

    def to_event(self) -> AccessGranted | AccessDenied:
        """The answer as a decision event, for callers that record synchronous checks."""
        cls = AccessGranted if self.permit else AccessDenied
        return cls(
            resource=self.request.resource,
            classification=self.request.classification,
            action=self.request.action,
            reasons=tuple(self.reasons),
            policy_hash=self.policy_hash,
            based_on_version=self.based_on_version,
            mode=self.mode,
            enforced=self.enforced,
            as_of=self.as_of,
        )


@dataclass(frozen=True, slots=True)
class Compiled:
    text: str
    """The whole generated policy set, as checked against the schema."""
    by_type: dict[str, cedarpy.PolicySet]
    uncovered: cedarpy.PolicySet
    """The rules that apply to a principal whose type the policy does not know."""

    def policies_for(self, contributor_type: str) -> cedarpy.PolicySet:
        return self.by_type.get(contributor_type, self.uncovered)


_SCHEMA: list[cedarpy.Schema] = []
_COMPILED: dict[str, Compiled] = {}
_CACHE_SIZE = 32


def _schema() -> cedarpy.Schema:
    if not _SCHEMA:
        _SCHEMA.append(_guarded("parse the Cedar schema", cedarpy.Schema.from_str, SCHEMA))
    return _SCHEMA[0]


def _guarded(what: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        # A panic in the Rust core arrives as pyo3's PanicException, a BaseException.
        raise PolicyEvaluationError(f"could not {what}", [str(exc)]) from exc


def compiled(policy: PolicyDocument, policy_hash: str | None = None) -> Compiled:
    """The parsed, schema-checked policy sets for `policy`, cached by its content hash."""
    key = policy_hash or content_hash(policy)
    found = _COMPILED.get(key)
    if found is not None:
        return found
    text = _guarded("generate Cedar policies", generate, policy)
    result = _guarded("validate Cedar policies", cedarpy.validate_policies, text, _schema())
    if not result.validation_passed:
        raise PolicyEvaluationError(
            "generated Cedar policies do not match the schema", [str(e) for e in result.errors]
        )

    def parsed(contributor_type: str) -> cedarpy.PolicySet:
        part = generate_for(policy, contributor_type)
        return _guarded("parse Cedar policies", cedarpy.PolicySet.from_str, part)  # type: ignore[no-any-return]

    entry = Compiled(text, {name: parsed(name) for name in policy.types}, parsed(""))
    if len(_COMPILED) >= _CACHE_SIZE:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = entry
    return entry


def policy_text(policy: PolicyDocument) -> str:
    return compiled(policy).text


def _principal(view: PolicyView, policy: PolicyDocument, today: date) -> dict[str, Any]:
    requirements, compliance = assess(view, policy, today)
    basis = coverage(view, today)
    has_contract = basis.start is not None
    return {
        "uid": {"type": "Contributor", "id": view.id or "unregistered"},
        "attrs": {
            "contributor_type": view.contributor_type,
            "lifecycle": view.lifecycle,
            "compliance": compliance.status,
            "lapsed_checks": sorted(r.check for r in requirements if r.state in LAPSED),
            "sponsor": view.sponsor or "",
            "has_contract": has_contract,
            "contract_start": basis.start.toordinal() if basis.start else 0,
            "contract_end": basis.end.toordinal() if basis.end else _OPEN_END,
        },
        "parents": [],
    }


def check_access(
    view: PolicyView,
    policy: PolicyDocument,
    resource: str,
    classification: Classification,
    action: AccessAction,
    today: date,
    approvals: Collection[str] = (),
    *,
    requested_until: date | None = None,
    policy_hash: str | None = None,
) -> AccessAnswer:
    """May the contributor act on `resource` today? `approvals` are the ids of the people
    who approved the request (the sponsor must be among them where the type needs
    approval); `requested_until`, if given, is the last day access is asked for."""
    request = AccessRequest(resource, classification, action)
    answers = check_access_batch(
        view,
        policy,
        [request],
        today,
        approvals,
        requested_until=requested_until,
        policy_hash=policy_hash,
    )
    return answers[0]


def check_access_batch(
    view: PolicyView,
    policy: PolicyDocument,
    requests: Sequence[AccessRequest],
    today: date,
    approvals: Collection[str] = (),
    *,
    requested_until: date | None = None,
    policy_hash: str | None = None,
) -> list[AccessAnswer]:
    """Several requests of one contributor in one Cedar call (entities are parsed once)."""
    key = policy_hash or content_hash(policy)
    policies = compiled(policy, key).policies_for(view.contributor_type)
    systems = {(r.resource, r.classification) for r in requests}
    if len({name for name, _ in systems}) != len(systems):
        raise PolicyEvaluationError("one system cannot have two classifications in a batch")
    entities = [_principal(view, policy, today)] + [
        {
            "uid": {"type": "System", "id": name},
            "attrs": {"name": name, "classification": rank(level)},
            "parents": [],
        }
        for name, level in sorted(systems)
    ]
    context: dict[str, Any] = {
        "today": today.toordinal(),
        "approvals": sorted(a for a in approvals if a),
    }
    if requested_until is not None:
        context["requested_until"] = requested_until.toordinal()
    cedar_requests = [
        {
            "principal": entities[0]["uid"],
            "action": {"type": "Action", "id": r.action},
            "resource": {"type": "System", "id": r.resource},
            "context": context,
        }
        for r in requests
    ]
    results: list[cedarpy.AuthzResult] = _guarded(
        "evaluate access",
        cedarpy.is_authorized_batch,
        cedar_requests,
        policies,
        entities,
        _schema(),
    )
    return [
        _answer(r, result, key, view.version, today, policy.mode)
        for r, result in zip(requests, results, strict=True)
    ]


def _answer(
    request: AccessRequest,
    result: cedarpy.AuthzResult,
    policy_hash: str,
    version: int,
    today: date,
    mode: Mode,
) -> AccessAnswer:
    diagnostics = result.diagnostics
    errors = [str(e) for e in diagnostics.errors]
    if errors or result.decision == cedarpy.Decision.NoDecision:
        raise PolicyEvaluationError(
            f"Cedar could not decide on {request.action} {request.resource}", errors
        )
    names: dict[str, str] = diagnostics.id_annotations_by_reason
    reasons = sorted(names.get(r, r) for r in diagnostics.reasons) or [NO_PERMIT]
    return AccessAnswer(
        permit=result.allowed,
        reasons=reasons,
        request=request,
        policy_hash=policy_hash,
        based_on_version=version,
        as_of=today,
        mode=mode,
    )
