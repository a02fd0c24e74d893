"""ETags for event-sourced resources, and `If-Match` for optimistic concurrency.

A resource's ETag is its stream version: any change appends an event and so changes it.
"""

from __future__ import annotations

from shared.http.problems import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header demands, or None when it demands nothing."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = [t.strip() for t in if_match.split(",")]
    if len(tags) != 1:
        raise Problem(
            400,
            "invalid-if-match",
            "Invalid If-Match",
            "send exactly one ETag in If-Match, as received from a GET",
        )
    tag = tags[0].removeprefix("W/")
    if not (len(tag) >= 3 and tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit()):
        raise Problem(
            400,
            "invalid-if-match",
            "Invalid If-Match",
            f"{tags[0]} is not an ETag this service issued",
        )
    return int(tag[1:-1])


def precondition_failed(current: int | None) -> Problem:
    headers = {"ETag": etag(current)} if current is not None else {}
    return Problem(
        412,
        "precondition-failed",
        "Precondition failed",
        "the resource has changed since you read it: GET it again and retry",
        headers=headers,
        current_etag=etag(current) if current is not None else None,
    )
