"""Pydantic validation errors as JSON pointers (RFC 6901) into the document that was sent.

Pydantic's `loc` mixes real keys with its own markers: union member tags such as
`literal['*']`, and `[key]` for a bad mapping key. Walking the raw input alongside the
`loc` keeps only the segments that exist in the input, so an author sees the path of the
value they wrote, not the shape of our models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True, slots=True, order=True)
class PointerError:
    path: str
    """A JSON pointer: "" is the whole document, `/types/contractor/access/ceiling` a field."""
    reason: str


def escape(segment: str | int) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def pointer(segments: Iterable[str | int]) -> str:
    return "".join("/" + escape(s) for s in segments)


def _segments(raw: Any, loc: Sequence[str | int], error_type: str) -> list[str | int]:
    node = raw
    path: list[str | int] = []
    last = len(loc) - 1
    for i, segment in enumerate(loc):
        if segment == "[key]":
            continue
        in_list = (
            isinstance(node, Sequence)
            and not isinstance(node, str)
            and isinstance(segment, int)
            and 0 <= segment < len(node)
        )
        if in_list or (isinstance(node, Mapping) and segment in node):
            node = node[segment]
            path.append(segment)
        elif isinstance(node, Mapping) and i == last and error_type == "missing":
            # A missing member is named where it should have been.
            path.append(segment)
        # Anything else is one of pydantic's markers (a union member tag): not in the input.
    return path


def pointer_errors(raw: Any, error: ValidationError) -> list[PointerError]:
    """One error per path; reasons for the same path (the members of a union) are joined."""
    reasons: dict[str, list[str]] = {}
    bad_keys: set[str] = set()
    for item in error.errors(include_url=False, include_input=False):
        path = pointer(_segments(raw, item["loc"], item["type"]))
        if "[key]" in item["loc"]:
            bad_keys.add(path)
        message = str(item["msg"]).removeprefix("Value error, ")
        if message not in reasons.setdefault(path, []):
            reasons[path].append(message)
    return [
        PointerError(path, "; ".join(found))
        for path, found in reasons.items()
        # What is wrong inside a member whose very name is wrong is noise.
        if not any(path.startswith(key + "/") for key in bad_keys)
    ]
