"""Cedar policy text generated from a PolicyDocument, and the Cedar schema it is checked with.

Each rule of a type becomes a `forbid` with its own `@id`, so a denial names exactly the
rules that refused it. The type's `permit` repeats every condition negated: access is
granted only by a positive match, never by the absence of a forbid, so a rule left out of
the generator fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.policy.domain.document import PolicyDocument, TypeRules, rank

SCHEMA = """
entity Contributor = {
  "contributor_type": String,
  "lifecycle": String,
  "compliance": String,
  "lapsed_checks": Set<String>,
  "sponsor": String,
  "has_contract": Bool,
  "contract_start": Long,
  "contract_end": Long,
};
entity System = {
  "name": String,
  "classification": Long,
};
action "access", "read", "write" appliesTo {
  principal: [Contributor],
  resource: [System],
  context: {
    "today": Long,
    "approvals": Set<String>,
    "requested_until"?: Long,
  },
};
"""
"""Days are ordinals (`date.toordinal()`); classifications are ranks (public 0 .. restricted
3). `compliance` is carried for readers of the entity; the rules use `lapsed_checks`."""

ACTIONS = ("access", "read", "write")
NO_PERMIT = "default.deny"
"""Reported when nothing matched at all: no permit and no forbid."""

_SAFE = re.compile(r"^[a-z][a-z0-9_.-]{0,49}$")

_LIFECYCLE_RULES = (
    ("lifecycle.offboarded", 'principal.lifecycle == "offboarded"'),
    ("lifecycle.suspended", 'principal.lifecycle == "suspended"'),
    (
        "lifecycle.not_yet_active",
        'principal.lifecycle == "invited" || principal.lifecycle == "onboarding"',
    ),
)

_CONTRACT_ENDED = "principal.has_contract && principal.contract_end < context.today"
_CONTRACT_COVERS = (
    "principal.has_contract && principal.contract_start <= context.today"
    " && context.today <= principal.contract_end"
)


def _text(value: str) -> str:
    # Names reach here already validated (type names, system names, check names); this
    # guard keeps a future caller from ever splicing free text into policy source.
    if not _SAFE.fullmatch(value):
        raise ValueError(f"{value!r} cannot be written into a Cedar policy")
    return f'"{value}"'


def _set(values: Sequence[str]) -> str:
    return "[" + ", ".join(_text(v) for v in values) + "]"


def _one_of(values: Sequence[str], expression: str) -> str:
    # Cedar's validator refuses an empty set literal; nothing is in an empty set.
    return f"{_set(values)}.contains({expression})" if values else "false"


def type_guards(name: str, rules: TypeRules) -> list[tuple[str, str]]:
    """(rule id, condition that refuses access) for one contributor type."""
    access = rules.access
    guards = [(f"{name}.over_ceiling", f"resource.classification > {rank(access.ceiling)}")]
    if access.allowed_systems != "*":
        guards.append(
            (
                f"{name}.system_not_allowed",
                f"!{_one_of(access.allowed_systems, 'resource.name')}",
            )
        )
    if access.approval_required:
        guards.append(
            (f"{name}.approval_missing", "!context.approvals.contains(principal.sponsor)")
        )
    if access.max_grant_days is not None:
        guards.append(
            (
                f"{name}.over_max_duration",
                "context has requested_until && "
                f"context.requested_until - context.today > {access.max_grant_days}",
            )
        )
    if not access.requires_contract:
        # No contract is needed, but one that has run out still ends the relationship.
        guards.append((f"{name}.contract_ended", _CONTRACT_ENDED))
    else:
        guards.append((f"{name}.no_contract_in_force", f"!({_CONTRACT_COVERS})"))
        guards.append(
            (
                f"{name}.beyond_contract_end",
                "context has requested_until && principal.has_contract && "
                "context.requested_until > principal.contract_end",
            )
        )
    suspending = sorted(
        check
        for check, spec in rules.compliance.checks.items()
        if spec.consequence == "suspend_access"
    )
    if suspending:
        guards.append(
            (
                f"{name}.compliance_lapsed",
                f"principal.lapsed_checks.containsAny({_set(suspending)})",
            )
        )
    return guards


def _rule(effect: str, rule_id: str, condition: str) -> str:
    scope = (
        "principal is Contributor, "
        f"action in [{', '.join(f'Action::{_text(a)}' for a in ACTIONS)}], "
        "resource is System"
    )
    return f'@id("{rule_id}")\n{effect} ({scope})\nwhen {{ {condition} }};\n'


def _global_rules(policy: PolicyDocument) -> list[str]:
    parts = [_rule("forbid", rule_id, cond) for rule_id, cond in _LIFECYCLE_RULES]
    known = sorted(policy.types)
    parts.append(
        _rule("forbid", "type.not_covered", f"!{_one_of(known, 'principal.contributor_type')}")
    )
    return parts


def _type_rules(name: str, rules: TypeRules) -> list[str]:
    is_type = f"principal.contributor_type == {_text(name)}"
    guards = type_guards(name, rules)
    parts = [_rule("forbid", rule_id, f"{is_type} && ({cond})") for rule_id, cond in guards]
    allowed = " && ".join(
        [is_type, 'principal.lifecycle == "active"', *(f"!({c})" for _, c in guards)]
    )
    parts.append(_rule("permit", f"{name}.permit", allowed))
    return parts


def generate(policy: PolicyDocument) -> str:
    """The Cedar policy set for `policy`: deterministic, so equal documents give equal text."""
    parts = _global_rules(policy)
    for name in sorted(policy.types):
        parts += _type_rules(name, policy.types[name])
    return "\n".join(parts)


def generate_for(policy: PolicyDocument, contributor_type: str) -> str:
    """The part of `generate(policy)` that can match a principal of `contributor_type`.

    Cedar evaluates every policy in a set on every request; the rules of other types are
    all guarded by their type and can never match, so leaving them out gives the same
    decisions at a fraction of the cost.
    """
    parts = _global_rules(policy)
    rules = policy.types.get(contributor_type)
    if rules is not None:
        parts += _type_rules(contributor_type, rules)
    return "\n".join(parts)
