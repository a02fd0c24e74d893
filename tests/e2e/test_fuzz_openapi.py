"""Fuzzing every service against the running stack (real PostgreSQL and Kafka), with a token
holding every scope. Three layers:

1. `test_api`: schemathesis on each OpenAPI document — the coverage phase's boundary and
   negative cases (missing or mistyped parameters, out-of-range values, unexpected
   methods), then random cases in positive and negative mode, hostile strings mixed in.
2. `test_api_string_edges`: valid cases, re-sent with NUL in one string parameter or body
   field at a time, and with each length-limited parameter at its limit.
3. `test_seed_*`: valid requests the documents cannot describe (SCIM and CloudEvents bodies,
   real policy documents), each string made NUL or very long, then random mutations.

Every answer: never a 5xx; a 4xx for data the schema forbids; every 4xx a problem document
(type, title, status, detail), or under /scim/v2 a SCIM error; a 405 with `Allow`.
`WFE_FUZZ_PROFILE=short` (default, CI: few examples, derandomized) or `long`; see
docs/reliability.md.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case as GenericCase
from schemathesis import CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    missing_required_header,
    negative_data_rejection,
    unsupported_method,
)

from tests.e2e.fuzz_support import (
    DELETE,
    HOSTILE_STRINGS,
    PROBLEM_JSON,
    Pointer,
    Services,
    as_pointer,
    described_apps,
    error_format_violations,
    json_values,
    leaves,
    replaced,
    services_in_thread,
)

# The services' Kafka clients, running in this process, draw from `random` while Hypothesis
# generates; Hypothesis notices and warns, though no strategy here uses it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)


class Profile(NamedTuple):
    api: int  # random cases per operation, after the coverage phase
    edges: int  # valid cases per operation for test_api_string_edges
    mutations: int  # random mutations per seed
    derandomize: bool
    unexpected_methods: list[str]  # the coverage phase tries these where a path lacks them
    coverage_mode: str  # the coverage phase's cases: "negative" only, or "all"


EVERY_METHOD = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"]
PROFILES = {
    "short": Profile(3, 1, 10, True, ["OPTIONS", "TRACE"], "negative"),
    "long": Profile(200, 20, 300, False, EVERY_METHOD, "all"),
}
PROFILE_NAME = os.environ.get("WFE_FUZZ_PROFILE", "short")
if PROFILE_NAME not in PROFILES:
    raise ValueError(f"WFE_FUZZ_PROFILE is one of {', '.join(PROFILES)}, not {PROFILE_NAME!r}")
PROFILE = PROFILES[PROFILE_NAME]


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=PROFILE.derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _schemas(config: dict[str, Any]) -> dict[str, schemathesis.BaseSchema]:
    loaded = schemathesis.Config.from_dict(config)
    return {
        name: schemathesis.openapi.from_dict(copy.deepcopy(app.openapi()), config=loaded)
        for name, app in described_apps().items()
    }


SCHEMAS = _schemas(
    {
        "dictionaries": {"hostile": {"values": HOSTILE_STRINGS}},
        "generation": {
            "mode": "all",
            "dictionaries": {"string": {"dictionary": "hostile", "probability": 0.2}},
        },
        "phases": {
            "coverage": {
                "unexpected-methods": PROFILE.unexpected_methods,
                "generation": {"mode": PROFILE.coverage_mode},
            },
            "stateful": {"enabled": False},
        },
    }
)
VALID_SCHEMAS = _schemas(
    {
        "generation": {"mode": "positive"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
Case = GenericCase[Any]
SERVICE_BY_TITLE = {app.title: name for name, app in described_apps().items()}


class Tally:
    """What the run did, printed at the end: operations, requests per kind, statuses."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()

    def record(self, label: str, kind: str, status: int) -> None:
        self.requests[label] += 1
        self.kinds[kind] += 1
        self.statuses[f"{status // 100}xx"] += 1

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kinds.items()))
        statuses = dict(sorted(self.statuses.items()))
        return (
            f"fuzz profile {PROFILE_NAME}: {len(self.requests)} operations, "
            f"{self.kinds.total()} requests ({kinds}); statuses {statuses}"
        )


@pytest.fixture(scope="module")
def services(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    data_dir = Path(tmp_path_factory.mktemp("fuzz"))
    with services_in_thread(postgres_admin_url, kafka_bootstrap, data_dir) as running:
        yield running


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    found = Tally()
    yield found
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + found.summary())


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def well_formed_errors(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """A 4xx is a problem document, or a SCIM error under /scim/v2."""
    if 400 <= response.status_code < 500:
        content_type = ", ".join(response.headers.get("content-type", []))
        found = error_format_violations(
            case.formatted_path, response.status_code, content_type, _json(response.content)
        )
        if found:
            raise AssertionError(f"the {response.status_code} is malformed: " + "; ".join(found))


CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    well_formed_errors,
]


def _base_url(case: Case, services: Services) -> str:
    return services.urls[SERVICE_BY_TITLE[case.operation.schema.raw_schema["info"]["title"]]]


@schemathesis.pytest.parametrize(**SCHEMAS)
@examples(PROFILE.api)
def test_api(case: Case, services: Services, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {services.token()}"}
    response = case.call(base_url=_base_url(case, services), headers=headers)
    negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    tally.record(case.operation.label, "negative" if negative else "positive", response.status_code)
    case.validate_response(response, checks=CHECKS, headers=headers)


def answer_violations(response: httpx.Response) -> list[str]:
    """Never a 5xx; a 4xx in the right format, and so is every event a batch rejects."""
    status, body = response.status_code, _json(response.content)
    if status >= 500:
        return [f"{status} {response.text[:300]}"]
    found: list[str] = []
    if status >= 400:
        content_type = response.headers.get("content-type", "")
        found = error_format_violations(response.request.url.path, status, content_type, body)
    elif isinstance(body, dict) and isinstance(body.get("results"), list):
        for result in body["results"]:
            if result.get("status") == "rejected":
                problem = result.get("problem")
                claimed = problem.get("status", 0) if isinstance(problem, dict) else 0
                found += error_format_violations("/", claimed, PROBLEM_JSON, problem)
    return [f"{status}: {v}: {response.text[:300]}" for v in found]


class Variant(NamedTuple):
    what: str
    request: dict[str, Any]


def string_edges(case: Case, base_url: str) -> Iterator[Variant]:
    """The case once per string in it (path, query, JSON body) with a NUL appended (no
    text column takes one), and once per length-limited parameter at its limit."""
    sent = case.as_transport_kwargs(base_url=base_url)
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "params": sent.get("params") or {},
        "json": sent.get("json"),
    }
    parameters = {p.name: p.definition["schema"] for p in case.operation.path_parameters}
    for name, value in case.path_parameters.items():
        for edge in _edges(str(value), parameters.get(name, {})):
            values = {k: quote(str(v), safe="") for k, v in case.path_parameters.items()}
            url = base_url + case.path.format(**{**values, name: quote(edge, safe="")})
            yield Variant(f"path {name}={edge!r}", {**request, "url": url})
    for parameter in case.operation.query:
        value = request["params"].get(parameter.name, "fuzz")
        if isinstance(value, str):
            for edge in _edges(value, parameter.definition["schema"]):
                params = {**request["params"], parameter.name: edge}
                yield Variant(f"query {parameter.name}={edge!r}", {**request, "params": params})
    for at, value in leaves(request["json"]):
        if isinstance(value, str):
            body = replaced(request["json"], at, value + "\x00")
            yield Variant(f"NUL in body {as_pointer(at)}", {**request, "json": body})


def _edges(value: str, schema: dict[str, Any]) -> Iterator[str]:
    texts = [schema, *schema.get("anyOf", [])]
    if any(s.get("type") == "string" for s in texts):
        yield value + "\x00"
        yield from ("0" * s["maxLength"] for s in texts if "maxLength" in s)


def _client(services: Services) -> httpx.Client:
    # After a 500 the server closes the connection (Starlette re-raises the error to it), so
    # no connection is reused: the next request would fail on the closed one.
    headers = {"Authorization": f"Bearer {services.token()}", "Connection": "close"}
    return httpx.Client(timeout=30, headers=headers)


@schemathesis.pytest.parametrize(**VALID_SCHEMAS)
@examples(PROFILE.edges)
def test_api_string_edges(case: Case, services: Services, tally: Tally) -> None:
    wrong: list[str] = []
    with _client(services) as client:
        for variant in string_edges(case, _base_url(case, services)):
            response = client.request(**variant.request)
            tally.record(case.operation.label, "edges", response.status_code)
            wrong += [f"{variant.what}: {v}" for v in answer_violations(response)]
    assert not wrong, f"{case.operation.label}:\n" + "\n".join(wrong)


# Seeds: valid requests for what no OpenAPI document describes well enough to generate.


@dataclass(frozen=True)
class Seed:
    service: str
    method: str
    path: str  # `{id}` is filled from the context, and its edges are tried too
    body: Callable[[str, dict[str, Any]], Any]  # (unique token, context) -> JSON
    media_type: str = "application/json"

    def request(self, token: str, context: dict[str, Any]) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.path.format(id=context.get("id", "")),
            "json": self.body(token, context),
        }


def _registration(t: str, _: dict[str, Any]) -> dict[str, Any]:
    return {
        "contributor_id": f"c-seed-{t}",
        "contributor_type": "contractor",
        "display_name": f"Seed {t}",
        "owning_function": "procurement",
        "sponsor": "s-1",
        "business_unit": "logistics",
        "email": f"seed-{t}@example.com",
    }


def _cloudevent(t: str, _: dict[str, Any]) -> dict[str, Any]:
    data = {**_registration(t, _), "contributor_id": f"c-event-{t}"}
    del data["email"]
    return {
        "specversion": "1.0",
        "id": f"e-{t}",
        "source": "/fuzz",
        "type": "org.workforce.contributor.registered.v1",
        "subject": data["contributor_id"],
        "time": "2025-01-02T03:04:05Z",
        "correlationid": f"corr-{t}",
        "data": data,
    }


def _scim_user(t: str, _: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"scim-{t}@example.com",
        "externalId": f"ext-{t}",
        "name": {"givenName": "Sam", "familyName": f"Seed {t}"},
        "emails": [{"value": f"scim-{t}@example.com", "type": "work", "primary": True}],
        "active": True,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "logistics",
            "manager": {"value": "s-1"},
        },
    }


def _scim_patch(t: str, _: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": f"Patched {t}"},
            {"op": "replace", "value": {"active": True, "title": "seed"}},
        ],
    }


SEEDS = {
    "register": Seed("registry", "POST", "/v1/contributors", _registration),
    "self-identification": Seed(
        "registry",
        "PUT",
        "/v1/contributors/{id}/self-identification",
        lambda t, _: {"answers": {"age_band": "25-34", "gender": f"seed {t}"}},
    ),
    "cloudevent": Seed(
        "registry", "POST", "/v1/events", _cloudevent, "application/cloudevents+json"
    ),
    "cloudevent batch": Seed(
        "registry",
        "POST",
        "/v1/events",
        lambda t, c: [_cloudevent(t, c), _cloudevent(f"{t}-2", c)],
        "application/cloudevents-batch+json",
    ),
    "scim create": Seed("registry", "POST", "/scim/v2/Users", _scim_user, "application/scim+json"),
    "scim patch": Seed(
        "registry", "PATCH", "/scim/v2/Users/{id}", _scim_patch, "application/scim+json"
    ),
    "publish": Seed(
        "policy",
        "POST",
        "/v1/policies",
        lambda t, c: {"document": {**c["policy"], "mode": "record_only"}, "reason": f"seed {t}"},
    ),
    "simulate": Seed(
        "policy", "POST", "/v1/policies/simulate", lambda t, c: {"document": c["policy"]}
    ),
    "access check": Seed(
        "policy",
        "POST",
        "/v1/access/check",
        lambda t, c: {
            "contributor_id": c["id"],
            "resource": "crm",
            "classification": "internal",
            "action": "read",
            "approvals": ["manager-1"],
            "requested_until": "2030-01-01",
        },
    ),
}


@pytest.fixture(scope="module")
def seed_context(services: Services) -> dict[str, dict[str, Any]]:
    """Per seed, what it needs: a contributor or a SCIM user to address, the policy in force."""
    headers = {"Authorization": f"Bearer {services.token()}"}
    with httpx.Client(timeout=30, headers=headers) as client:
        registry, policy = services.urls["registry"], services.urls["policy"]
        created = client.post(f"{registry}/v1/contributors", json=_registration("context", {}))
        assert created.status_code == 201, created.text
        user = client.post(f"{registry}/scim/v2/Users", json=_scim_user("context", {}))
        assert user.status_code == 201, user.text
        current = client.get(f"{policy}/v1/policies/current")
        assert current.status_code == 200, current.text
    policy_document = current.json()["document"]
    return {
        name: {
            "id": user.json()["id"] if name.startswith("scim") else created.json()["id"],
            "policy": policy_document,
        }
        for name in SEEDS
    }


def send(
    client: httpx.Client, services: Services, seed: Seed, request: dict[str, Any]
) -> httpx.Response:
    return client.request(
        request["method"],
        services.urls[seed.service] + request["url"],
        content=json.dumps(request["json"], ensure_ascii=False).encode(),
        headers={"Content-Type": seed.media_type},
    )


def seed_edges(seed: Seed, context: dict[str, Any]) -> Iterator[Variant]:
    """The seed with its path id, then each string in its body, made NUL-terminated or long
    (past the common limits: 128 for ids, 200 for labels, and far past any)."""
    request = seed.request(uuid.uuid4().hex[:12], context)
    if "{id}" in seed.path:
        for edge in (context["id"] + "\x00", "0" * 128):
            url = seed.path.format(id=quote(edge, safe=""))
            yield Variant(f"path id {edge!r}", {**request, "url": url})
    for at, value in leaves(request["json"]):
        if isinstance(value, str):
            for edge in (value + "\x00", "x" * 256, "x" * 5000):
                fresh = seed.request(uuid.uuid4().hex[:12], context)
                body = replaced(fresh["json"], at, edge)
                what = f"{as_pointer(at)} = {edge[:24]!r}{'...' if len(edge) > 24 else ''}"
                yield Variant(what, {**fresh, "json": body})


@pytest.mark.parametrize("name", SEEDS)
def test_seed_edges(
    name: str, services: Services, seed_context: dict[str, dict[str, Any]], tally: Tally
) -> None:
    seed, context = SEEDS[name], seed_context[name]
    with _client(services) as client:
        valid = send(client, services, seed, seed.request(uuid.uuid4().hex[:12], context))
        assert valid.status_code < 400, f"the seed {name} itself is refused: {valid.text}"
        wrong: list[str] = []
        for variant in seed_edges(seed, context):
            response = send(client, services, seed, variant.request)
            tally.record(f"{seed.method} {seed.path}", "seed edges", response.status_code)
            wrong += [f"{variant.what}: {v}" for v in answer_violations(response)]
    assert not wrong, f"seed {name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", SEEDS)
def test_seed_mutations(
    name: str, services: Services, seed_context: dict[str, dict[str, Any]], tally: Tally
) -> None:
    seed, context = SEEDS[name], seed_context[name]
    pointers = [at for at, _ in leaves(seed.request("x", context)["json"]) if at]

    @examples(PROFILE.mutations)
    @given(
        changes=st.lists(
            st.tuples(st.sampled_from(pointers), st.one_of(json_values(), st.just(DELETE))),
            min_size=1,
            max_size=3,
        )
    )
    def mutated(changes: list[tuple[Pointer, Any]]) -> None:
        request = seed.request(uuid.uuid4().hex[:12], context)
        body = request["json"]
        for at, value in changes:
            if at in {where for where, _ in leaves(body)}:
                body = replaced(body, at, value)
        response = send(client, services, seed, {**request, "json": body})
        tally.record(f"{seed.method} {seed.path}", "seed mutations", response.status_code)
        wrong = answer_violations(response)
        assert not wrong, f"seed {name} as {json.dumps(body, default=str)[:300]}: {wrong}"

    with _client(services) as client:
        mutated()
