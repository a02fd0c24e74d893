"""The User attributes a SCIM request may set, each checked against the registry's value
shapes and recorded in a `Desired`: what the request asks, before it becomes commands.

Attribute names are case-insensitive. Attributes SCIM defines but the registry does not keep
(title, phoneNumbers, ...) are accepted and ignored; an explicit PATCH path to anything
unknown is `invalidPath`, and one to a read-only attribute is `mutability`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from services.registry.api.scim_errors import ScimError, invalid_value
from services.registry.api.scim_schema import CONTRIBUTOR_USER, CORE_USER, ENTERPRISE_USER
from services.registry.api.scim_user import UNASSIGNED, type_name
from services.registry.domain.values import (
    EmailAddress,
    ExternalId,
    Identifier,
    Label,
    OwningFunction,
)

Op = Literal["add", "replace", "remove"]
SCHEMAS = (CORE_USER, ENTERPRISE_USER, CONTRIBUTOR_USER)
_IGNORED = {
    CORE_USER: {
        "nickname",
        "profileurl",
        "title",
        "preferredlanguage",
        "locale",
        "timezone",
        "password",
        "phonenumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509certificates",
    },
    ENTERPRISE_USER: {"organization", "employeenumber", "costcenter", "division"},
    CONTRIBUTOR_USER: set(),
}
_READ_ONLY = {
    CORE_USER: {"id", "meta", "groups", "schemas"},
    ENTERPRISE_USER: set(),
    CONTRIBUTOR_USER: {"lifecycle"},
}
_EMAIL_FILTER = re.compile(
    r'^\s*(?P<attr>type|primary)\s+eq\s+(?P<value>"[^"]*"|true|false)\s*$', re.IGNORECASE
)


@dataclass
class Desired:
    """What a request asks for; None leaves that attribute as it is."""

    user_name: str | None = None
    email: str | None = None
    display_name: str | None = None
    formatted_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    whole_name: bool = False
    """A whole `name` was given, so givenName + familyName may stand for the display name."""
    active: bool | None = None
    contributor_type: str | None = None
    owning_function: OwningFunction | None = None
    sponsor: str | None = None
    business_unit: str | None = None
    external_id: str | None = None

    def resolved_display_name(self) -> str | None:
        if self.display_name is not None:
            return self.display_name
        if self.formatted_name is not None:
            return self.formatted_name
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) if self.whole_name and parts else None


@dataclass(frozen=True)
class Path:
    schema: str
    attribute: str | None
    """Lower-case; None addresses a whole extension."""
    value_filter: str | None = None
    sub: str | None = None


def assign(desired: Desired, path: Path, op: Op, value: Any, *, explicit: bool) -> None:
    """One attribute of one request. Unknown and read-only attributes in documents are
    ignored (RFC 7644 §3.5.1); named explicitly in a PATCH path they are errors."""
    attribute = path.attribute or ""
    label = attribute if path.schema == CORE_USER else f"{path.schema}:{attribute}"
    if attribute in _IGNORED[path.schema]:
        return
    if attribute in _READ_ONLY[path.schema]:
        if explicit:
            raise ScimError(400, f"{label} is read-only", "mutability")
        return
    handler = _HANDLERS.get((path.schema, attribute))
    if handler is None:
        if explicit:
            raise ScimError(400, f"no attribute {label}", "invalidPath")
        return
    if value is None and op != "remove":
        # null means unassigned (RFC 7643 §2.5): in a document, like leaving it out (which
        # keeps the value); on an explicit path, a removal.
        if not explicit:
            return
        op = "remove"
    handler(desired, path, op, value, label)


def _string(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise invalid_value(f"{label} must be a string")
    return value


def _valid(adapter: TypeAdapter[Any], value: Any, label: str) -> Any:
    try:
        return adapter.validate_python(_string(value, label))
    except ValidationError as exc:
        raise invalid_value(f"{label}: {exc.errors()[0]['msg']}") from None


_LABEL: TypeAdapter[str] = TypeAdapter(Label)
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
_EXTERNAL_ID: TypeAdapter[str] = TypeAdapter(ExternalId)
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)
_OWNER: TypeAdapter[OwningFunction] = TypeAdapter(OwningFunction)


def _no_remove(op: Op, label: str) -> None:
    if op == "remove":
        raise ScimError(400, f"{label} cannot be removed: the registry requires it", "mutability")


def _user_name(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    _no_remove(op, label)
    d.user_name = _string(value, label).strip()
    if not d.user_name:
        raise invalid_value("userName must not be empty")


def _display_name(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    _no_remove(op, label)
    d.display_name = _valid(_LABEL, value, label)


def _external_id(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    if op == "remove":
        raise ScimError(400, "externalId cannot be removed once linked", "mutability")
    d.external_id = _valid(_EXTERNAL_ID, value, label)


def _contributor_type(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    _no_remove(op, label)
    d.contributor_type = type_name(_string(value, label))


def _active(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    _no_remove(op, label)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"  # Entra ID sends "False"
    if not isinstance(value, bool):
        raise invalid_value("active must be true or false")
    d.active = value


def _name(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    if op == "remove":
        return  # the name parts are not kept; the display name stays
    if path.sub is None:
        if not isinstance(value, dict):
            raise invalid_value("name must be an object")
        d.whole_name = True
        for key, inner in value.items():
            if inner is not None:
                _name(d, Path(CORE_USER, "name", None, key.lower()), op, inner, f"name.{key}")
    elif path.sub == "formatted":
        d.formatted_name = _valid(_LABEL, value, label)
    elif path.sub == "givenname":
        d.given_name = _string(value, label).strip()
    elif path.sub == "familyname":
        d.family_name = _string(value, label).strip()


def _emails(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    if not _work_email(path.value_filter) or path.sub not in (None, "value"):
        return  # a home or other address, or its type/primary flag: not kept
    if op == "remove":
        raise ScimError(400, "the email address cannot be removed", "mutability")
    if path.sub is None and path.value_filter is None:
        entries = value if isinstance(value, list) else [value]
        value = _pick_email(entries)
        if value is None:
            return
    elif path.sub is None and isinstance(value, dict):
        value = value.get("value")
    d.email = _valid(_EMAIL, value, "emails.value")


def _work_email(value_filter: str | None) -> bool:
    if value_filter is None:
        return True
    match = _EMAIL_FILTER.match(value_filter)
    if match is None:
        raise ScimError(400, f"unsupported emails filter {value_filter!r}", "invalidPath")
    if match["attr"].lower() == "type":
        return match["value"].strip('"').lower() == "work"
    return match["value"].lower() == "true"


def _pick_email(entries: list[Any]) -> Any:
    """The primary address, else the work one, else an untyped one; never a home address."""
    ranked = sorted(
        (_email_rank(e), i, e["value"])
        for i, e in enumerate(entries)
        if isinstance(e, dict) and "value" in e
    )
    return ranked[0][2] if ranked and ranked[0][0] < 3 else None


def _email_rank(entry: dict[str, Any]) -> int:
    if str(entry.get("primary")).lower() == "true":
        return 0
    if str(entry.get("type", "")).lower() == "work":
        return 1
    return 2 if entry.get("type") is None else 3


def _business_unit(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    d.business_unit = UNASSIGNED if op == "remove" else _valid(_LABEL, value, label)


def _sponsor(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    if path.sub not in (None, "value"):
        return  # manager.displayName and $ref are derived, never kept
    if isinstance(value, dict):
        value = value.get("value")
    if op == "remove" or value in (None, ""):
        d.sponsor = UNASSIGNED
        return
    d.sponsor = _valid(_IDENTIFIER, value, label)


def _owning_function(d: Desired, path: Path, op: Op, value: Any, label: str) -> None:
    _no_remove(op, label)
    d.owning_function = _valid(_OWNER, value, label)


_HANDLERS = {
    (CORE_USER, "username"): _user_name,
    (CORE_USER, "displayname"): _display_name,
    (CORE_USER, "externalid"): _external_id,
    (CORE_USER, "usertype"): _contributor_type,
    (CORE_USER, "active"): _active,
    (CORE_USER, "name"): _name,
    (CORE_USER, "emails"): _emails,
    (ENTERPRISE_USER, "department"): _business_unit,
    (ENTERPRISE_USER, "manager"): _sponsor,
    (CONTRIBUTOR_USER, "contributortype"): _contributor_type,
    (CONTRIBUTOR_USER, "owningfunction"): _owning_function,
    (CONTRIBUTOR_USER, "sponsor"): _sponsor,
    (CONTRIBUTOR_USER, "businessunit"): _business_unit,
}
