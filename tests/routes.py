"""Every route of an app, flattened: FastAPI keeps included routers as nested entries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import BaseRoute


def flatten(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from flatten(nested.routes)
        else:
            yield route


def paths(routes: Sequence[BaseRoute]) -> set[str]:
    return {str(getattr(route, "path", "")) for route in flatten(routes)}
