"""What the fuzzing and authorization-matrix tests share: every service's app, served by
uvicorn in a thread of its own on a fresh database and fresh Kafka topics, and the checks
an error response must pass.

The services run in a thread with its own event loop because schemathesis calls them
synchronously; their own database and topics keep random writes away from other tests.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import strategies as st

from shared.http.auth import SCOPES, Authenticator
from shared.settings import ServiceSettings
from tests.servers import SIGNING_KEY, isolated_settings, serve

# Every service's composition root; one that does not exist yet is left out.
SERVICE_MODULES = {
    "registry": "services.registry.app",
    "policy": "services.policy.app",
    "reporting": "services.reporting.app",
}
PROBLEM_JSON = "application/problem+json"
SCIM_JSON = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_PREFIX = "/scim/v2"

AppFactory = Callable[[ServiceSettings], FastAPI]


def service_factories() -> dict[str, AppFactory]:
    found: dict[str, AppFactory] = {}
    for name, module in SERVICE_MODULES.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = importlib.import_module(module).app
    return found


@cache
def described_apps() -> dict[str, FastAPI]:
    """The apps, built but not started: enough for their routes and OpenAPI documents."""
    settings = ServiceSettings(
        data_dir=Path("/nonexistent/wfe-described"), signing_key=SIGNING_KEY, database_url=None
    )
    return {name: factory(settings) for name, factory in service_factories().items()}


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def __str__(self) -> str:
        return f"{self.service} {self.key}"


def routes(app: FastAPI, service: str) -> list[Route]:
    """Every route the app answers, documented or not (HEAD is implied by GET)."""
    found: list[Route] = []
    for context in iter_route_contexts(app.routes):
        for method in sorted(context.methods or ()):
            if method != "HEAD" and context.path is not None:
                found.append(Route(service, method, context.path))
    return found


@dataclass(frozen=True)
class Services:
    urls: Mapping[str, str]
    authenticator: Authenticator

    def token(self, *scopes: str) -> str:
        return self.authenticator.mint("fuzzer", scopes or SCOPES)


def _not_uvicorn_traceback(record: logging.LogRecord) -> bool:
    # The app logs every unhandled error itself, before it answers. Uvicorn logs it again
    # after the answer, formatting the traceback in this thread while the test formats its
    # own, and Python 3.11 can fail with "SystemError: AST constructor recursion depth
    # mismatch" when two threads do that at once.
    return not record.getMessage().startswith("Exception in ASGI application")


@contextmanager
def services_in_thread(admin_url: str, bootstrap: str, data_dir: Path) -> Iterator[Services]:
    """Every service, started (lifespan, migrations, workers) in a background event loop."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addFilter(_not_uvicorn_traceback)
    try:
        with _serving(admin_url, bootstrap, data_dir) as services:
            yield services
    finally:
        uvicorn_errors.removeFilter(_not_uvicorn_traceback)


@contextmanager
def _serving(admin_url: str, bootstrap: str, data_dir: Path) -> Iterator[Services]:
    started: Future[tuple[Services, asyncio.AbstractEventLoop, asyncio.Event]] = Future()

    async def run() -> None:
        stop = asyncio.Event()
        try:
            async with (
                isolated_settings(admin_url, bootstrap, data_dir, "fuzz") as settings,
                AsyncExitStack() as stack,
            ):
                urls: dict[str, str] = {}
                authenticator = Authenticator(SIGNING_KEY)
                for name, factory in service_factories().items():
                    running = await stack.enter_async_context(serve(factory(settings)))
                    urls[name] = running.base_url
                started.set_result(
                    (Services(urls, authenticator), asyncio.get_running_loop(), stop)
                )
                await stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise

    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=main, name="wfe-services", daemon=True)
    thread.start()
    services, loop, stop = started.result(timeout=180)
    try:
        yield services
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        if errors and not started.exception():
            raise errors[0]


def error_format_violations(path: str, status: int, content_type: str, body: Any) -> list[str]:
    """Why an error response is not in the format its route promises, if it is not:
    SCIM errors under /scim/v2 (RFC 7644 §3.12), problem details elsewhere (RFC 9457)."""
    media = content_type.split(";")[0].strip().lower()
    if path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/"):
        found = []
        if media != SCIM_JSON:
            found.append(f"content type {content_type!r}, not {SCIM_JSON}")
        if not isinstance(body, dict):
            return [*found, "the body is not a JSON object"]
        if body.get("schemas") != [SCIM_ERROR]:
            found.append(f"schemas is {body.get('schemas')!r}, not [{SCIM_ERROR!r}]")
        if body.get("status") != str(status):
            found.append(f"status is {body.get('status')!r}, not {str(status)!r}")
        if not isinstance(body.get("detail"), str) or not body["detail"]:
            found.append("no detail")
        return found
    found = []
    if media != PROBLEM_JSON:
        found.append(f"content type {content_type!r}, not {PROBLEM_JSON}")
    if not isinstance(body, dict):
        return [*found, "the body is not a JSON object"]
    for member, kind in (("type", str), ("title", str), ("status", int), ("detail", str)):
        if not isinstance(body.get(member), kind):
            found.append(f"{member} is {body.get(member)!r}, not a {kind.__name__}")
    if body.get("status") != status:
        found.append(f"status member {body.get('status')!r} differs from the HTTP status {status}")
    return found


# Strings that have broken services before: NUL and other control characters (PostgreSQL
# refuses NUL in text and JSONB), bidi overrides, SQL and template syntax, long non-ASCII.
HOSTILE_STRINGS = [
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\u202eevil",
    "' OR '1'='1",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "%00",
    "\U0001f600" * 50,
    "\u00e9" * 300,
]


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON, hostile strings included."""
    text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30))
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=12,
    )


Pointer = tuple[str | int, ...]


def leaves(value: Any, at: Pointer = ()) -> Iterator[tuple[Pointer, Any]]:
    """Every scalar in a JSON document, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*at, index))
    else:
        yield at, value


def replaced(value: Any, at: Pointer, new: Any) -> Any:
    """A copy of the document with the value at `at` replaced (`DELETE` removes it)."""
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, dict):
        copy = {**value}
        if rest or new is not DELETE:
            copy[head] = replaced(value[head], rest, new)
        else:
            del copy[head]
        return copy
    assert isinstance(value, list)
    assert isinstance(head, int)
    items = list(value)
    if rest or new is not DELETE:
        items[head] = replaced(value[head], rest, new)
    else:
        del items[head]
    return items


DELETE = object()


def as_pointer(at: Pointer) -> str:
    return "/" + "/".join(str(part) for part in at)
