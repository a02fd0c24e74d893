"""What a SCIM request asks of a User: a whole document (POST, PUT, a PATCH operation without
path) or PATCH operations with paths (RFC 7644 §3.5.2), including the forms identity
providers really send: Entra ID's capitalised ops, string booleans, dotted keys in path-less
values, `emails[type eq "work"].value`, plain-string managers; Okta's path-less
`{"active": false}`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.registry.api.scim_attributes import SCHEMAS, Desired, Op, Path, assign
from services.registry.api.scim_errors import ScimError, invalid_value
from services.registry.api.scim_schema import CORE_USER

_OPS: dict[str, Op] = {"add": "add", "replace": "replace", "remove": "remove"}
_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$-]*)(?:\[(?P<filter>[^\]]*)\])?(?:\.(?P<sub>[\w$-]+))?$"
)


class PatchOperation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    op: str
    path: str | None = None
    value: Any = None


class PatchRequest(BaseModel):
    """`schemas` is not checked: a PatchOp is recognised by its Operations."""

    model_config = ConfigDict(extra="ignore")

    operations: list[PatchOperation] = Field(alias="Operations", min_length=1, max_length=100)


def parse_path(text: str) -> Path:
    schema = CORE_USER
    rest = text.strip()
    if rest.lower().startswith("urn:"):
        for urn in SCHEMAS:
            if rest.lower() == urn.lower():
                return Path(urn, None)
            if rest.lower().startswith(urn.lower() + ":"):
                schema, rest = urn, rest[len(urn) + 1 :]
                break
        else:
            raise ScimError(400, f"unknown schema in path {text!r}", "invalidPath")
    match = _PATH.match(rest)
    if match is None:
        raise ScimError(400, f"cannot parse the path {text!r}", "invalidPath")
    sub = match["sub"].lower() if match["sub"] else None
    return Path(schema, match["attr"].lower(), match["filter"], sub)


def apply_document(desired: Desired, document: dict[str, Any]) -> None:
    """A resource or a path-less PATCH value: each key replaces one attribute."""
    for key, value in document.items():
        path = _document_key(key)
        if path is None:
            continue
        if path.attribute is None:
            if not isinstance(value, dict):
                raise invalid_value(f"{path.schema} must be an object")
            for name, inner in value.items():
                inner_path = _document_key(name)
                if inner_path is not None and inner_path.schema == CORE_USER:
                    inner_path = dataclasses.replace(inner_path, schema=path.schema)
                    assign(desired, inner_path, "replace", inner, explicit=False)
        else:
            assign(desired, path, "replace", value, explicit=False)


def _document_key(key: str) -> Path | None:
    try:
        return parse_path(key)
    except ScimError:
        return None  # another provider's extension, or no attribute name: ignored


def apply_patch(desired: Desired, body: dict[str, Any]) -> None:
    try:
        request = PatchRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScimError(400, f"not a PatchOp: {where}: {first['msg']}", "invalidSyntax") from None
    for operation in request.operations:
        op = _OPS.get(operation.op.strip().lower())
        if op is None:
            raise ScimError(400, f"unknown op {operation.op!r}", "invalidSyntax")
        if operation.path is None or not operation.path.strip():
            if op == "remove":
                raise ScimError(400, "remove needs a path", "noTarget")
            if not isinstance(operation.value, dict):
                raise invalid_value(f"{op} without a path needs an object value")
            apply_document(desired, operation.value)
        else:
            path = parse_path(operation.path)
            if path.attribute is None:
                if op == "remove":
                    raise ScimError(400, f"cannot remove {path.schema}", "mutability")
                apply_document(desired, {path.schema: operation.value})
            else:
                assign(desired, path, op, operation.value, explicit=True)
