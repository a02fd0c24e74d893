"""The policy document: the organisation's rules per contributor type, as validated data.

A document is plain JSON when it is written and published; `validate_policy` turns it into
a frozen `PolicyDocument` or refuses it with every error at its exact JSON pointer. Lists
that are sets in meaning (programs, systems, offsets) are stored sorted, so the content
hash does not depend on the order an author happened to write them in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from services.policy.domain.defaults import DEFAULT_RULES
from services.policy.domain.pointers import PointerError, pointer, pointer_errors
from services.registry.domain.values import (
    CLASSIFICATIONS,
    CheckName,
    Classification,
    DeiProgram,
    SystemName,
    TypeName,
)

Strictness = Literal["light", "standard", "strict"]
Consequence = Literal["block_activation", "suspend_access", "notify"]
Mode = Literal["draft", "record_only", "enforced"]

STRICTNESS_LEVELS: tuple[Strictness, ...] = get_args(Strictness)
CONSEQUENCES: tuple[Consequence, ...] = get_args(Consequence)
MODES: tuple[Mode, ...] = get_args(Mode)

DEFAULT_CONSEQUENCE: Mapping[str, Consequence] = {
    "light": "notify",
    "standard": "block_activation",
    "strict": "suspend_access",
}
"""What a lapsed check does when its entry does not say: strict policy suspends access."""

T = TypeVar("T", str, int)

AllowedSystems = Annotated[
    Annotated[Literal["*"], Tag("all")] | Annotated[tuple[SystemName, ...], Tag("listed")],
    # Picking the member up front keeps pydantic from reporting why the other one failed.
    Discriminator(lambda value: "all" if value == "*" else "listed"),
]
Days = Annotated[int, Field(ge=1, le=36_600)]
GraceDays = Annotated[int, Field(ge=0, le=3_660)]


def rank(classification: Classification) -> int:
    """public 0 < internal 1 < confidential 2 < restricted 3."""
    return CLASSIFICATIONS.index(classification)


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequiredCheck(_Rules):
    validity_days: Days | None = None
    """A result counts for at most this many days after it was recorded; None: no limit of
    our own (the vendor's `valid_until`, if any, still applies)."""
    grace_days: GraceDays = 0
    """Days allowed to complete a missing check, or to renew an expired one, before the
    consequence applies."""
    consequence: Consequence


class ComplianceRules(_Rules):
    strictness: Strictness
    checks: dict[CheckName, RequiredCheck] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_consequences(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("checks"), Mapping):
            return raw
        strictness = raw.get("strictness")
        default = DEFAULT_CONSEQUENCE.get(strictness) if isinstance(strictness, str) else None
        if default is None:
            return raw
        checks = {
            name: {"consequence": default, **spec} if isinstance(spec, Mapping) else spec
            for name, spec in raw["checks"].items()
        }
        return {**raw, "checks": checks}


class AccessRules(_Rules):
    ceiling: Classification
    """Nothing above this classification is ever granted to the type."""
    max_grant_days: Days | None = None
    """None: a grant may run as long as the contract does."""
    approval_required: bool = False
    """The contributor's sponsor must approve each access request."""
    allowed_systems: AllowedSystems = "*"
    requires_contract: bool = True
    """Access needs a contract in force; agents and app developers usually have none."""

    @field_validator("allowed_systems", mode="before")
    @classmethod
    def _star_or_list(cls, value: Any) -> Any:
        if value != "*" and not isinstance(value, list | tuple):
            raise ValueError('must be "*" or a list of system names')
        return value

    @field_validator("allowed_systems")
    @classmethod
    def _systems_as_set(cls, value: Literal["*"] | tuple[str, ...]) -> Any:
        if value == "*":
            return value
        return _sorted_unique(value)


class TypeRules(_Rules):
    compliance: ComplianceRules
    dei_programs: tuple[DeiProgram, ...] = ()
    """The DEI programs extended to the type; empty: none (or not applicable)."""
    access: AccessRules

    @field_validator("dei_programs")
    @classmethod
    def _programs_as_set(cls, value: tuple[DeiProgram, ...]) -> tuple[str, ...]:
        return _sorted_unique(value)


class PolicyDocument(_Rules):
    mode: Mode
    reminder_offsets_days: tuple[Days, ...] = (30, 14, 7)
    """Reminders go out this many days before a contract end, check expiry or grant expiry."""
    types: dict[TypeName, TypeRules]

    @field_validator("reminder_offsets_days")
    @classmethod
    def _offsets_as_set(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(reversed(_sorted_unique(value)))


def _sorted_unique(values: tuple[T, ...]) -> tuple[T, ...]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return tuple(sorted(values))


class PolicyInvalid(ValueError):
    def __init__(self, errors: tuple[PointerError, ...]) -> None:
        self.errors = errors
        shown = "; ".join(f"{e.path or '/'}: {e.reason}" for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid policy document: {shown}{more}")


def validate_policy(raw: Mapping[str, Any], known_types: set[str]) -> PolicyDocument:
    """The document, or `PolicyInvalid` listing every error (pydantic's and ours) at once.

    Every known type needs rules: a type the policy forgets is exactly the kind of gap the
    product exists to close, so it is refused rather than silently unregulated.
    """
    errors: list[PointerError] = []
    document: PolicyDocument | None = None
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        errors.extend(pointer_errors(raw, exc))
    types = raw.get("types") if isinstance(raw, Mapping) else None
    if isinstance(types, Mapping):
        for name in sorted(set(types) - known_types):
            path = pointer(["types", name])
            # Whatever else is wrong with rules for a type that does not exist is noise.
            errors = [e for e in errors if e.path != path and not e.path.startswith(path + "/")]
            errors.append(PointerError(path, "unknown contributor type"))
        for name in sorted(known_types - set(types)):
            errors.append(PointerError(pointer(["types", name]), "no rules for contributor type"))
    if errors or document is None:
        raise PolicyInvalid(tuple(sorted(errors)))
    return document


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_json(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


_HASHES: dict[int, tuple[PolicyDocument, str]] = {}


def content_hash(document: PolicyDocument) -> str:
    """sha256 (hex) of the canonical JSON: equal rules, equal hash, whatever the key order."""
    cached = _HASHES.get(id(document))
    if cached is not None and cached[0] is document:
        return cached[1]
    digest = hash_json(document.model_dump(mode="json"))
    if len(_HASHES) >= 64:
        _HASHES.pop(next(iter(_HASHES)))
    # Keeping the document alive in the cache stops its id being reused by another object.
    _HASHES[id(document)] = (document, digest)
    return digest


DEFAULT_POLICY = PolicyDocument.model_validate(DEFAULT_RULES)
"""The rules table of the handbook (domain.md), enforced. Notes on the choices the table
leaves open are in docs/policy.md."""
