"""The authorization matrix: every route of every service, with every kind of credential,
against the running services.

`REQUIRED_SCOPE` is the design: which scope each route needs (None: open to anyone). Routes
are enumerated from the apps themselves, so a new route fails `test_every_route_has_a_decision`
until someone decides here what it needs. For each route and credential the answer must be:
- 401 with `WWW-Authenticate: Bearer ...` for no, malformed, expired, forged or wrongly
  signed tokens (`error="invalid_token"` once a token was sent);
- 403 with `WWW-Authenticate: Bearer error="insufficient_scope"` for a valid token without the
  route's scope, as a problem naming `required_scope` (a SCIM error under /scim/v2);
- anything but 401/403 for a token holding exactly the required scope, and for open routes.
Authentication also comes before input validation: an unauthenticated caller learns nothing
about a route's input rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from shared.http.auth import ISSUER, SCOPES, Authenticator
from tests.e2e.fuzz_support import (
    SCIM_PREFIX,
    Route,
    Services,
    described_apps,
    error_format_violations,
    routes,
    services_in_thread,
)

# The design, one row per route: method, path, the scope a token needs ("-": open to anyone).
DESIGN = """
# every service: operations, open to anyone
GET    /healthz                                                                -
GET    /readyz                                                                 -
GET    /metrics                                                                -
GET    /openapi.json                                                           -
GET    /docs                                                                   -
GET    /docs/oauth2-redirect                                                   -
GET    /redoc                                                                  -
# registry: reads, writes (REST), CloudEvents, SCIM
GET    /v1/contributors                                                        contributors:read
GET    /v1/contributors/{contributor_id}                                       contributors:read
GET    /v1/contributors/{contributor_id}/history                               contributors:read
POST   /v1/contributors                                                        contributors:write
PATCH  /v1/contributors/{contributor_id}                                       contributors:write
POST   /v1/contributors/{contributor_id}/onboarding                            contributors:write
POST   /v1/contributors/{contributor_id}/activation                            contributors:write
POST   /v1/contributors/{contributor_id}/suspension                            contributors:write
POST   /v1/contributors/{contributor_id}/reinstatement                         contributors:write
POST   /v1/contributors/{contributor_id}/offboarding                           contributors:write
POST   /v1/contributors/{contributor_id}/reengagement                          contributors:write
POST   /v1/contributors/{contributor_id}/conversion                            contributors:write
POST   /v1/contributors/{contributor_id}/source-references                     contributors:write
POST   /v1/contributors/{contributor_id}/contracts                             contributors:write
POST   /v1/contributors/{contributor_id}/contracts/{contract_id}/extension     contributors:write
POST   /v1/contributors/{contributor_id}/contracts/{contract_id}/termination   contributors:write
POST   /v1/contributors/{contributor_id}/engagements                           contributors:write
POST   /v1/contributors/{contributor_id}/engagements/{engagement_id}/end       contributors:write
POST   /v1/contributors/{contributor_id}/checks                                contributors:write
POST   /v1/contributors/{contributor_id}/access-grants                         contributors:write
POST   /v1/contributors/{contributor_id}/access-grants/{grant_id}/revocation   contributors:write
POST   /v1/contributors/{contributor_id}/dei-enrolments                        contributors:write
POST   /v1/contributors/{contributor_id}/dei-withdrawals                       contributors:write
PATCH  /v1/contributors/{contributor_id}/contracts/{contract_id}               contributors:write
PUT    /v1/contributors/{contributor_id}/self-identification                   contributors:write
DELETE /v1/contributors/{contributor_id}/self-identification                   contributors:write
GET    /v1/self-identification/periods                                         dei:feed
GET    /v1/self-identification/aggregates                                      dei:feed
POST   /v1/events                                                              events:ingest
GET    /scim/v2/ServiceProviderConfig                                          scim
GET    /scim/v2/Schemas                                                        scim
GET    /scim/v2/Schemas/{schema_id}                                            scim
GET    /scim/v2/ResourceTypes                                                  scim
GET    /scim/v2/ResourceTypes/{type_id}                                        scim
GET    /scim/v2/Users                                                          scim
POST   /scim/v2/Users                                                          scim
GET    /scim/v2/Users/{user_id}                                                scim
PUT    /scim/v2/Users/{user_id}                                                scim
PATCH  /scim/v2/Users/{user_id}                                                scim
DELETE /scim/v2/Users/{user_id}                                                scim
# anything else under /scim/v2: a SCIM 404/405/501, after the same check
GET    /scim/v2/{rest:path}                                                    scim
POST   /scim/v2/{rest:path}                                                    scim
PUT    /scim/v2/{rest:path}                                                    scim
PATCH  /scim/v2/{rest:path}                                                    scim
DELETE /scim/v2/{rest:path}                                                    scim
OPTIONS /scim/v2/{rest:path}                                                   scim
TRACE  /scim/v2/{rest:path}                                                    scim
# policy
GET    /v1/policies                                                            policy:read
GET    /v1/policies/current                                                    policy:read
GET    /v1/decisions/{contributor_id}                                          policy:read
GET    /v1/decisions/{contributor_id}/history                                  policy:read
POST   /v1/policies                                                            policy:admin
POST   /v1/policies/simulate                                                   policy:admin
POST   /v1/access/check                                                        access:check
# reporting
GET    /v1/reports/composition                                                 reports:read
GET    /v1/reports/composition/series                                          reports:read
GET    /v1/reports/lifecycle/time-to-onboard                                   reports:read
GET    /v1/reports/lifecycle/engagements                                       reports:read
GET    /v1/reports/lifecycle/contracts-ending                                  reports:read
GET    /v1/reports/lifecycle/conversions                                       reports:read
GET    /v1/reports/lifecycle/reengagements                                     reports:read
GET    /v1/reports/compliance/posture                                          reports:read
GET    /v1/reports/compliance/overdue-checks                                   reports:read
GET    /v1/reports/access-risk/external-sensitive                              reports:read
GET    /v1/reports/access-risk/after-end                                       reports:read
GET    /v1/reports/access-risk/without-expiry                                  reports:read
# DEI coverage counts programme extensions and enrolments, not demographics
GET    /v1/reports/dei/coverage                                                reports:read
GET    /v1/reports/integration-health/duplicates                               reports:read
GET    /v1/reports/integration-health/accountability-gaps                      reports:read
GET    /v1/reports/integration-health/access-without-contract                  reports:read
GET    /v1/reports/integration-health/conflicting-owners                       reports:read
GET    /v1/reports/freshness                                                   reports:read
# the live dashboard: a ticket for its stream; the stream (a token or a ticket)
POST   /dashboard/stream-tickets                                               reports:read
GET    /dashboard/stream                                                       reports:read
# the dashboard page and its scripts hold no data: the page asks for a token
GET    /dashboard                                                              -
GET    /dashboard/static/{name}                                                -
# demographic figures, even aggregated, need their own scope
GET    /v1/reports/dei/demographics                                            dei:aggregate
"""


def _table(text: str) -> dict[str, str | None]:
    table: dict[str, str | None] = {}
    for row in text.splitlines():
        if row and not row.startswith("#"):
            method, path, scope = row.split()
            assert f"{method} {path}" not in table, f"{method} {path} is in the design twice"
            table[f"{method} {path}"] = None if scope == "-" else scope
    return table


REQUIRED_SCOPE = _table(DESIGN)

ALL_ROUTES = [route for name, app in described_apps().items() for route in routes(app, name)]
DECIDED = [route for route in ALL_ROUTES if route.key in REQUIRED_SCOPE]
PROTECTED = [route for route in DECIDED if REQUIRED_SCOPE[route.key] is not None]
WITH_BODY = [route for route in PROTECTED if route.method in ("POST", "PUT", "PATCH")]
WITH_PATH_PARAMETERS = [route for route in PROTECTED if "{" in route.path]

OTHER_KEY = "another-signing-key-" + "y" * 32


@dataclass(frozen=True)
class Credential:
    name: str
    header: Callable[[Services], str | None]
    scope: str | None = None  # the one scope a valid token holds
    token_sent: bool = True  # a 401 then says error="invalid_token" (RFC 6750 §3.1)

    def __str__(self) -> str:
        return self.name


def _forged_unsigned(_: Services) -> str:
    claims = {"iss": ISSUER, "sub": "mallory", "scope": " ".join(SCOPES), "exp": 4102444800}
    return "Bearer " + jwt.encode(claims, key="", algorithm="none")


INVALID = [
    Credential("no Authorization header", lambda s: None, token_sent=False),
    Credential("Basic credentials", lambda s: "Basic dXNlcjpwYXNzd29yZA==", token_sent=False),
    Credential("Bearer without a token", lambda s: "Bearer", token_sent=False),
    Credential("Bearer with a non-JWT", lambda s: "Bearer not-a-jwt"),
    Credential(
        "expired token",
        lambda s: "Bearer " + s.authenticator.mint("late", SCOPES, ttl=timedelta(minutes=-5)),
    ),
    Credential(
        "token signed with another key",
        lambda s: "Bearer " + Authenticator(OTHER_KEY).mint("forger", SCOPES),
    ),
    Credential("unsigned token (alg none)", _forged_unsigned),
]


def _holding(*scopes: str) -> Callable[[Services], str]:
    return lambda services: "Bearer " + services.authenticator.mint("tester", scopes)


VALID = [
    Credential("token without scopes", _holding()),
    *(Credential(f"token with {scope}", _holding(scope), scope) for scope in SCOPES),
]


def concrete(path: str) -> str:
    """The route's path with a plausible value in each parameter."""
    return re.sub(r"\{[^}]+\}", "authz-1", path)


def url(services: Services, route: Route, path: str | None = None) -> str:
    return services.urls[route.service] + (path or concrete(route.path))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    text: str  # read for errors only: an allowed answer may be a stream that lasts

    def json(self) -> object:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def send(
    client: httpx.Client,
    services: Services,
    route: Route,
    authorization: str | None,
    *,
    path: str | None = None,
    body: bytes | None = None,
) -> Answer:
    headers = {} if authorization is None else {"Authorization": authorization}
    if body is None and route.method in ("POST", "PUT", "PATCH"):
        body = b"{}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    target = url(services, route, path)
    with client.stream(route.method, target, headers=headers, content=body) as response:
        text = response.read().decode() if response.status_code >= 400 else ""
        return Answer(response.status_code, response.headers, text)


def unauthenticated_violations(route: Route, answer: Answer, token_sent: bool) -> list[str]:
    if answer.status != 401:
        return [f"{answer.status}, not 401: {answer.text[:200]}"]
    found = []
    challenge = answer.headers.get("www-authenticate", "")
    if not challenge.startswith("Bearer"):
        found.append(f"WWW-Authenticate is {challenge!r}, not a Bearer challenge")
    elif token_sent and 'error="invalid_token"' not in challenge:
        found.append(f'WWW-Authenticate is {challenge!r}, without error="invalid_token"')
    content_type = answer.headers.get("content-type", "")
    return found + error_format_violations(route.path, 401, content_type, answer.json())


def forbidden_violations(route: Route, answer: Answer, scope: str) -> list[str]:
    if answer.status != 403:
        return [f"{answer.status}, not 403: {answer.text[:200]}"]
    found = []
    challenge = answer.headers.get("www-authenticate", "")
    if 'error="insufficient_scope"' not in challenge or f'scope="{scope}"' not in challenge:
        found.append(f"WWW-Authenticate is {challenge!r}, not insufficient_scope for {scope}")
    body = answer.json()
    found += error_format_violations(route.path, 403, answer.headers.get("content-type", ""), body)
    is_scim = route.path.startswith(SCIM_PREFIX)
    if not is_scim and (not isinstance(body, dict) or body.get("required_scope") != scope):
        found.append(f"required_scope is not {scope!r}")
    return found


@pytest.fixture(scope="module")
def services(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    data_dir = Path(tmp_path_factory.mktemp("authz"))
    with services_in_thread(postgres_admin_url, kafka_bootstrap, data_dir) as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as found:
        yield found


def test_every_route_has_a_decision() -> None:
    undecided = sorted(str(route) for route in ALL_ROUTES if route.key not in REQUIRED_SCOPE)
    assert not undecided, "decide which scope these routes need, in REQUIRED_SCOPE: " + ", ".join(
        undecided
    )


def test_the_design_names_no_route_that_does_not_exist() -> None:
    existing = {route.key for route in ALL_ROUTES}
    stale = sorted(key for key in REQUIRED_SCOPE if key not in existing)
    assert not stale, f"REQUIRED_SCOPE names routes no service has: {stale}"


def test_every_scope_guards_some_route() -> None:
    unused = set(SCOPES) - {REQUIRED_SCOPE[route.key] for route in DECIDED}
    assert not unused, f"scopes no route needs: {sorted(unused)}"


@pytest.mark.parametrize("route", DECIDED, ids=str)
def test_route_answers_each_credential_as_designed(
    route: Route, services: Services, client: httpx.Client
) -> None:
    required = REQUIRED_SCOPE[route.key]
    wrong: list[str] = []
    for credential in INVALID:
        answer = send(client, services, route, credential.header(services))
        if required is None:
            if answer.status in (401, 403):
                wrong.append(f"{credential}: {answer.status} on an open route")
            continue
        found = unauthenticated_violations(route, answer, credential.token_sent)
        wrong += [f"{credential}: {v}" for v in found]
    for credential in VALID:
        answer = send(client, services, route, credential.header(services))
        if required is None or credential.scope == required:
            if answer.status in (401, 403):
                wrong.append(f"{credential}: {answer.status}, not allowed: {answer.text}")
            continue
        wrong += [f"{credential}: {v}" for v in forbidden_violations(route, answer, required)]
    assert not wrong, f"{route} (needs {required or 'nothing'}):\n" + "\n".join(wrong)


@pytest.mark.parametrize("route", WITH_BODY, ids=str)
def test_malformed_body_does_not_come_before_authorization(
    route: Route, services: Services, client: httpx.Client
) -> None:
    required = REQUIRED_SCOPE[route.key]
    assert required is not None
    other = next(scope for scope in SCOPES if scope != required)
    wrong_scope = "Bearer " + services.authenticator.mint("other", [other])
    for body in (b"{", b"[1,"):
        found = unauthenticated_violations(
            route, send(client, services, route, None, body=body), token_sent=False
        )
        found += forbidden_violations(
            route, send(client, services, route, wrong_scope, body=body), required
        )
        assert not found, f"{route} with the body {body!r}: {found}"


@pytest.mark.parametrize("route", WITH_PATH_PARAMETERS, ids=str)
def test_unauthenticated_invalid_path_parameter_is_401(
    route: Route, services: Services, client: httpx.Client
) -> None:
    path = re.sub(r"\{[^}]+\}", "%20%21", route.path)
    answer = send(client, services, route, None, path=path)
    found = unauthenticated_violations(route, answer, token_sent=False)
    assert not found, f"{route} at {path} with no token: {found}"
