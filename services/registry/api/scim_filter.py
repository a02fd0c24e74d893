"""The SCIM filters identity providers send to find a user before creating it: `eq` on a few
attributes, optionally joined with `and`. Anything else is refused as `invalidFilter` rather
than half-understood, so an IdP never takes "no match" for an answer it did not get.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.registry.adapters.tables import contributors, source_references
from services.registry.api.scim_errors import ScimError
from services.registry.api.scim_schema import CORE_USER

MAX_FILTER_LENGTH = 1000
SUPPORTED = ("id", "userName", "externalId", "emails.value", "active", "userType", "displayName")
_CANONICAL = {name.lower(): name for name in SUPPORTED} | {"emails": "emails.value"}
_TERM = re.compile(
    r"""\s*(?P<attr>[A-Za-z][\w.:$-]*)\s+(?P<op>[A-Za-z]+)\s+
        (?P<value>"(?:[^"\\]|\\.)*"|[A-Za-z]+|-?[\d.]+)\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Equals:
    attribute: str
    """One of SUPPORTED, in its canonical spelling."""
    value: str | bool


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def parse_filter(text: str) -> list[Equals]:
    """`attr eq value [and attr eq value ...]`; attribute names are case-insensitive."""
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter(f"a filter has at most {MAX_FILTER_LENGTH} characters")
    terms: list[Equals] = []
    position = 0
    while True:
        match = _TERM.match(text, position)
        if match is None:
            raise invalid_filter(
                f"cannot parse the filter at {text[position:][:40]!r}: supported is "
                f'`attribute eq "value"` joined with `and`, on {", ".join(SUPPORTED)}'
            )
        terms.append(_term(match["attr"], match["op"], match["value"]))
        position = match.end()
        if position == len(text):
            return terms
        joined = _AND.match(text, position)
        if joined is None:
            raise invalid_filter(f"unsupported filter syntax at {text[position:][:40]!r}")
        position = joined.end()


def _term(attr: str, op: str, raw: str) -> Equals:
    if attr.lower().startswith(CORE_USER.lower() + ":"):
        attr = attr[len(CORE_USER) + 1 :]
    name = _CANONICAL.get(attr.lower())
    if name is None:
        raise invalid_filter(f"filtering on {attr!r} is not supported; use {', '.join(SUPPORTED)}")
    if op.lower() != "eq":
        raise invalid_filter(f"operator {op!r} is not supported; only eq (and `and`)")
    value = _literal(raw)
    if name == "active":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise invalid_filter("active is compared with true or false")
    elif not isinstance(value, str):
        raise invalid_filter(f"{name} is compared with a quoted string")
    return Equals(name, value)


def _literal(raw: str) -> Any:
    if raw.startswith('"'):
        try:
            return json.loads(raw)
        except ValueError:
            raise invalid_filter(f"{raw} is not a valid string literal") from None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise invalid_filter(f"unsupported value {raw!r}: use a quoted string, true or false")


def where_clause(term: Equals, system: str, username_system: str) -> sa.ColumnElement[bool]:
    """The read-model condition for one term; `system` is the calling identity provider's."""
    c = contributors.c
    if term.attribute == "active":
        return c.lifecycle == "active" if term.value else c.lifecycle != "active"
    value = str(term.value)
    match term.attribute:
        case "id":
            return c.id == value
        case "userName":
            # What user_resource shows as userName: the IdP's own username reference, else
            # the email, else the id.
            by_reference = c.id.in_(
                sa.select(source_references.c.contributor_id).where(
                    source_references.c.system == username_system,
                    sa.func.lower(source_references.c.external_id) == value.lower(),
                )
            )
            return sa.or_(
                sa.func.lower(c.email) == value.lower(),
                by_reference,
                sa.and_(c.email.is_(None), c.id == value),
            )
        case "externalId":
            return c.id.in_(
                sa.select(source_references.c.contributor_id).where(
                    source_references.c.system == system,
                    source_references.c.external_id == value,
                )
            )
        case "emails.value":
            return sa.func.lower(c.email) == value.lower()
        case "userType":
            return c.contributor_type == value.strip().lower().replace(" ", "_").replace("-", "_")
        case _:
            return sa.func.lower(c.display_name) == value.lower()
