"""The deployment artefacts, checked without Docker or a cluster.

docker-compose.yml, deploy/k8s/*.yaml and deploy/asyncapi.yaml are validated against the
schemas vendored in deploy/schemas/ (compose-spec, Kubernetes 1.30 strict, AsyncAPI 3.0.0;
provenance in its README), then held to the code they name: ports (`serve.PORTS`), `WFE_*`
variables (settings fields), commands (the typer app), probe paths (the apps' routes), topics
and partition count, and the Dockerfile's build steps.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import jsonschema
import pytest
import typer
import yaml
from alembic.script import ScriptDirectory
from pydantic_settings import BaseSettings
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012
from typer.core import TyperGroup

import shared
from services.registry.domain.events import Registered
from shared.cli import asyncapi
from shared.cli.main import app as wfe
from shared.cli.serve import PORTS
from shared.envelope import recorded_to_binary
from shared.eventstore.model import RecordedEvent
from shared.http.auth import InsecureSigningKey, signing_key
from shared.migrations import MIGRATIONS
from shared.settings import DEADLETTER_TOPIC, POLICY_TOPIC, REGISTRY_TOPIC, ServiceSettings, Topics
from shared.stack.config import StackSettings
from tests.routes import paths

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "deploy" / "schemas"
K8S = ROOT / "deploy" / "k8s"
TOPICS = [REGISTRY_TOPIC, POLICY_TOPIC, DEADLETTER_TOPIC]
PARTITIONS: int = StackSettings.model_fields["topic_partitions"].default
CONSUMERS = ("policy", "reporting")
OPTIONAL_MANIFESTS = {"secret.yaml", "migrate-job.yaml"}  # documented in kustomization.yaml
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Doc = dict[str, Any]


# --- helpers -------------------------------------------------------------------------------


def interpolate(text: str) -> str:
    """Compose interpolation with every variable unset: `${X:-d}` -> d, `$$` -> `$`."""

    def default(match: re.Match[str]) -> str:
        assert match[2] is not None, f"${{{match[1]}}} has no default in docker-compose.yml"
        return match[2]

    return _VARIABLE.sub(default, text).replace("$$", "$")


@cache
def compose() -> Doc:
    loaded: Doc = yaml.safe_load(interpolate((ROOT / "docker-compose.yml").read_text()))
    return loaded


def manifests() -> Iterator[tuple[str, Doc]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for doc in yaml.safe_load_all(path.read_text()):
                yield path.name, doc


def manifest(kind: str, name: str) -> Doc:
    found = [d for _, d in manifests() if d["kind"] == kind and d["metadata"].get("name") == name]
    assert len(found) == 1, f"expected one {kind} {name} in deploy/k8s, found {len(found)}"
    return found[0]


def setting_variables() -> set[str]:
    """Every environment variable a settings class reads (nested models via their own)."""
    classes: Sequence[type[BaseSettings]] = (ServiceSettings, Topics, StackSettings)
    return {
        f"{cls.model_config.get('env_prefix', '')}{name}".upper()
        for cls in classes
        for name, info in cls.model_fields.items()
        if not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseSettings))
    }


def resolve_command(args: Sequence[str]) -> None:
    """Walk `wfe ARGS` through the typer app and parse the leaf's options (never invoking)."""
    command = typer.main.get_command(wfe)
    rest, path = list(args), ["wfe"]
    while isinstance(command, TyperGroup):
        assert rest, f"`{' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"`{' '.join(path)}` has no command {name!r}"
        command, path = sub, [*path, name]
    command.make_context(" ".join(path), rest)  # raises a UsageError on unknown options


@cache
def validator(schema_file: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_file.read_text())
    registry: Registry[Any] = Registry()
    definitions = schema_file.parent / "_definitions.json"
    # Kubernetes: the kinds refer to https://kubernetes.io/api/_definitions.json
    if definitions.exists():
        resource = Resource.from_contents(json.loads(definitions.read_text()), DRAFT202012)
        registry = registry.with_resource(resource.id() or "", resource)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry)


def errors(validate: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validate.iter_errors(instance)]


def kubernetes_schema(doc: Doc) -> Path:
    group, _, version = doc["apiVersion"].rpartition("/")
    name = "-".join(p for p in (doc["kind"].lower(), group.split(".")[0], version) if p)
    return SCHEMAS / "kubernetes-v1.30.0" / f"{name}.json"


def routes(service: str, tmp_path: Path) -> set[str]:
    factory = importlib.import_module(f"services.{service}.app").app
    configured = ServiceSettings(
        data_dir=tmp_path, database_url=None, environment="development", signing_key=None
    )
    asgi = factory(configured)
    return paths(asgi.routes)


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, argument = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), argument.strip()))
    return stages


# --- docker compose ------------------------------------------------------------------------


def test_compose_file_follows_the_compose_spec() -> None:
    validate = validator(SCHEMAS / "compose-spec.json")
    assert errors(validate, compose()) == []
    broken = json.loads(json.dumps(compose()))
    broken["services"]["policy"]["depends_on"]["postgres"]["condition"] = "service_heathy"
    assert errors(validate, broken), "the schema must catch a misspelt condition"


def test_compose_runs_the_stack_the_tests_run() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "kafka", "kafka-init", *PORTS}
    assert services["postgres"]["image"] == "postgres:15"
    # `wfe stack` sets the same (shared/stack/postgres.py).
    assert services["postgres"]["command"] == ["postgres", "-c", "wal_compression=lz4"]
    kafka_image = f"apache/kafka:{StackSettings.model_fields['kafka_version'].default}"
    assert services["kafka"]["image"] == services["kafka-init"]["image"] == kafka_image
    assert services["kafka-init"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert services["kafka-init"]["restart"] == "no"


def test_compose_creates_the_topics_with_the_partition_count() -> None:
    services = compose()["services"]
    init = services["kafka-init"]
    assert init["environment"]["TOPICS"].split() == TOPICS
    assert int(init["environment"]["TOPIC_PARTITIONS"]) == PARTITIONS
    assert int(services["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"]) == PARTITIONS
    script = " ".join(init["command"])
    for needed in ("kafka-topics.sh", "--create", '"$topic"', '"$TOPIC_PARTITIONS"', "$TOPICS"):
        assert needed in script


@pytest.mark.parametrize("service", PORTS)
def test_compose_service_runs_its_wfe_command_on_its_port(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["command"] == ["serve", service, "--host", "0.0.0.0"]
    resolve_command(spec["command"])
    assert spec["build"] == "."
    assert [str(p).rsplit(":", 1)[1] for p in spec["ports"]] == [str(PORTS[service])]
    assert f"http://127.0.0.1:{PORTS[service]}/healthz" in " ".join(spec["healthcheck"]["test"])
    images = {compose()["services"][s]["image"] for s in PORTS}
    assert len(images) == 1, "one image for every service"


@pytest.mark.parametrize("service", PORTS)
def test_compose_service_starts_after_what_it_needs(service: str) -> None:
    services = compose()["services"]
    needs = services[service]["depends_on"]
    assert needs["postgres"] == {"condition": "service_healthy"}
    assert needs["kafka-init"] == {"condition": "service_completed_successfully"}
    for name, condition in needs.items():
        if condition["condition"] == "service_healthy":
            assert "healthcheck" in services[name], f"{name} has no health check"


def test_compose_keeps_data_in_named_volumes() -> None:
    declared = set(compose()["volumes"])
    used = {
        str(mount).split(":", 1)[0]
        for spec in compose()["services"].values()
        for mount in spec.get("volumes", [])
    }
    assert used == declared == {"postgres-data", "kafka-data", "wfe-data"}


def test_compose_variables_are_settings_and_documented_in_env_example() -> None:
    env_example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    pairs = set(_VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    interpolated = dict(pairs)
    assert len(interpolated) == len(pairs), "a variable has different defaults"
    assert set(interpolated) == set(env_example)
    for name, value in env_example.items():
        assert interpolated[name] == value, f".env.example's {name} differs from the default"
    in_containers = {k for s in PORTS for k in compose()["services"][s]["environment"]}
    wfe_names = {n for n in [*env_example, *in_containers] if n.startswith("WFE_")}
    assert wfe_names - setting_variables() == set()


def test_compose_environment_makes_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in compose()["services"]["policy"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    settings = ServiceSettings()
    assert settings.database_url_for("policy").startswith("postgresql+asyncpg://")
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert [settings.topics.registry, settings.topics.policy, settings.topics.deadletter] == TOPICS


def test_compose_stack_serves_the_dashboard(tmp_path: Path) -> None:
    assert "/dashboard" in routes("reporting", tmp_path)


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_builds_the_same_pyproject_as_the_tests() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    stages = dockerfile_stages()
    assert [s[0][1] for s in stages] == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    builder, runtime = stages
    assert ("COPY", "pyproject.toml ./") in builder
    assert ("RUN", "/opt/venv/bin/pip install .") in builder
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["wfe"] == "shared.cli.main:app"
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    assert not any(i == "RUN" and re.search(r"apt-get|gcc|build-essential", a) for i, a in runtime)


def test_dockerfile_puts_the_migrations_where_an_installed_shared_looks() -> None:
    # The wheel has shared* and services* only; shared/migrations.py looks one level up.
    expected = Path(shared.__file__).resolve().parent.parent / "deploy" / "migrations"
    assert expected == MIGRATIONS
    builder = dict(dockerfile_stages()[0])
    assert 'cp -r deploy/migrations "$site/deploy/migrations"' in builder["RUN"]
    assert 'sysconfig.get_paths()["purelib"]' in builder["RUN"]


def test_runtime_image_runs_wfe_as_a_non_root_user() -> None:
    runtime = dockerfile_stages()[-1]
    instructions = dict(runtime)
    uid, _, gid = instructions["USER"].partition(":")
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    assert json.loads(instructions["ENTRYPOINT"]) == ["wfe"]
    command = json.loads(instructions["CMD"])
    assert command == ["serve", "registry", "--host", "0.0.0.0"]
    resolve_command(command)
    assert {int(p) for p in instructions["EXPOSE"].split()} == set(PORTS.values())
    healthcheck = instructions["HEALTHCHECK"]
    assert "/healthz" in healthcheck
    assert '"python"' in healthcheck
    assert all(str(port) in healthcheck for port in PORTS.values())
    env = re.findall(r"(WFE_[A-Z_]+)=", instructions["ENV"])
    assert env
    assert set(env) <= setting_variables()


def test_dockerignore_lets_through_exactly_what_the_dockerfile_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]

    def ignored(path: str) -> bool:
        """Docker's rule, simplified: the last matching pattern wins; a pattern matches a
        path or any folder above it; `**/x` matches x at any depth."""
        verdict = False
        parts = path.split("/")
        for raw in patterns:
            pattern = raw.lstrip("!").rstrip("/")
            if pattern.startswith("**/"):
                candidates, pattern = parts, pattern[3:]
            else:
                candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(c, pattern) for c in candidates):
                verdict = not raw.startswith("!")
        return verdict

    copied = [a.split()[0] for s in dockerfile_stages() for i, a in s if i == "COPY"]
    sources = [c for c in copied if not c.startswith("--from")]
    assert sources == ["pyproject.toml", "shared", "services", "deploy/migrations"]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source), source
    for private in (".venv", ".git", ".env", ".wfe/data/signing.key", "tests", "shared/x.pyc"):
        assert ignored(private), private


# --- Kubernetes -----------------------------------------------------------------------------


def test_manifests_follow_the_kubernetes_schemas() -> None:
    seen = set()
    for name, doc in manifests():
        schema = kubernetes_schema(doc)
        assert schema.exists(), f"{name}: no vendored schema for {doc['apiVersion']} {doc['kind']}"
        assert errors(validator(schema), doc) == [], name
        seen.add(doc["kind"])
    assert seen >= {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "Job"}
    broken = json.loads(json.dumps(manifest("Deployment", "wfe-policy")))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/"
    assert errors(validator(kubernetes_schema(broken)), broken), "strict schemas catch typos"


def test_kustomization_lists_every_manifest_but_the_optional_ones() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - OPTIONAL_MANIFESTS
    assert on_disk >= OPTIONAL_MANIFESTS


@pytest.mark.parametrize("service", PORTS)
def test_deployment_runs_its_service_with_probes_on_real_routes(
    service: str, tmp_path: Path
) -> None:
    deployment = manifest("Deployment", f"wfe-{service}")
    pod = deployment["spec"]["template"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    resolve_command(container["args"])
    assert container["args"][:2] == ["serve", service]
    assert container["ports"] == [{"name": "http", "containerPort": PORTS[service]}]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(PORTS[service])
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe")}
    probes["readinessProbe"] = container["readinessProbe"]["httpGet"]
    assert {k: p["path"] for k, p in probes.items()} == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert {p["port"] for p in probes.values()} == {"http"}
    served = routes(service, tmp_path)
    assert {"/healthz", "/readyz", "/metrics"} <= served
    refs = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    assert refs == ["wfe-config", "wfe-secrets"]
    manifest("ConfigMap", "wfe-config")
    manifest("Secret", "wfe-secrets")
    user = dict(dockerfile_stages()[-1])["USER"].split(":")[0]
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert str(security["runAsUser"]) == user


@pytest.mark.parametrize("service", PORTS)
def test_service_and_disruption_budget_select_the_pods(service: str) -> None:
    pod_labels = manifest("Deployment", f"wfe-{service}")["spec"]["template"]["metadata"]["labels"]
    svc = manifest("Service", f"wfe-{service}")
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert svc["spec"]["ports"] == [{"name": "http", "port": PORTS[service], "targetPort": "http"}]
    budget = manifest("PodDisruptionBudget", f"wfe-{service}")["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["minAvailable"] == 1


@pytest.mark.parametrize("service", CONSUMERS)
def test_consumers_scale_up_to_the_partition_count(service: str) -> None:
    hpa = manifest("HorizontalPodAutoscaler", f"wfe-{service}")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": f"wfe-{service}"}  # fmt: skip
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"] == PARTITIONS
    assert "replicas" not in manifest("Deployment", f"wfe-{service}")["spec"], "the HPA owns it"
    assert "Bounded by the partition count" in (K8S / f"{service}.yaml").read_text()


def test_config_and_secret_make_settings_that_refuse_the_placeholder_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = manifest("ConfigMap", "wfe-config")["data"]
    secret = manifest("Secret", "wfe-secrets")["stringData"]
    assert set(secret) == {"WFE_DATABASE_URL", "WFE_SIGNING_KEY"}
    assert {*config, *secret} <= setting_variables()
    for name, value in {**config, **secret}.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings()
    assert [settings.topics.registry, settings.topics.policy, settings.topics.deadletter] == TOPICS
    assert settings.environment != "development"
    assert (settings.database_url or "").startswith("postgresql+asyncpg://")
    with pytest.raises(InsecureSigningKey):
        signing_key(settings.signing_key, tmp_path, settings.environment)


def test_migration_job_brings_every_schema_to_its_head(tmp_path: Path) -> None:
    (job,) = [doc for _, doc in manifests() if doc["kind"] == "Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    program, flag, script = container["command"]
    assert (program, flag) == ("python", "-c")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")}
    env["WFE_DATA_DIR"] = str(tmp_path)  # no database URL: SQLite files, one per service
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    scripts = ScriptDirectory(str(MIGRATIONS))
    for service in PORTS:
        assert f"{service}: at {service}@head" in done.stdout
        (head,) = scripts.get_revisions(f"{service}@head")
        with sqlite3.connect(tmp_path / f"{service}.db") as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
                (head.revision,)
            ]


# --- AsyncAPI -------------------------------------------------------------------------------


@cache
def asyncapi_doc() -> Doc:
    loaded: Doc = yaml.safe_load((ROOT / "deploy" / "asyncapi.yaml").read_text())
    return loaded


def test_asyncapi_document_is_current() -> None:
    committed = (ROOT / "deploy" / "asyncapi.yaml").read_text()
    assert asyncapi.render() == committed, "deploy/asyncapi.yaml is stale: run `wfe asyncapi`"


def test_asyncapi_document_follows_the_asyncapi_3_schema() -> None:
    validate = validator(SCHEMAS / "asyncapi-3.0.0.json")
    assert errors(validate, asyncapi_doc()) == []
    broken = {**asyncapi_doc(), "operations": {"x": {"action": "publish"}}}
    assert errors(validate, broken), "2.x's `publish` is not a 3.0 action"


def test_asyncapi_channels_carry_every_catalogued_event() -> None:
    from services.policy.domain.events import EVENT_CLASSES as POLICY_EVENTS
    from services.registry.domain.events import EVENT_CLASSES as REGISTRY_EVENTS

    doc = asyncapi_doc()
    channels = doc["channels"]
    assert [c["address"] for c in channels.values()] == TOPICS
    expected = [[c.TYPE for c in REGISTRY_EVENTS], [c.TYPE for c in POLICY_EVENTS], ["deadLetter"]]
    assert [list(c["messages"]) for c in channels.values()] == expected
    assert {c["bindings"]["kafka"]["partitions"] for c in channels.values()} == {PARTITIONS}
    for reference in _references(doc):
        target: Any = doc
        for part in reference.removeprefix("#/").split("/"):
            target = target[part]


def test_asyncapi_schemas_accept_what_the_relay_sends() -> None:
    payload = Registered.model_validate(
        {"contributor_id": "c-1", "contributor_type": "contractor", "display_name": "Ada",
         "owning_function": "procurement", "sponsor": "s-17", "business_unit": "logistics"}
    ).model_dump(mode="json")  # fmt: skip
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    recorded = RecordedEvent(1, UUID(int=7), "c-1", 3, Registered.TYPE, payload, {}, moment, moment)
    headers, value = recorded_to_binary(recorded, "/registry")
    message = f"urn:asyncapi#/components/messages/{Registered.TYPE}"
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(asyncapi_doc(), DRAFT7)
    )

    def check(part: str, instance: Any) -> list[str]:
        schema = {"$ref": f"{message}/{part}"}
        return errors(jsonschema.Draft7Validator(schema, registry=registry), instance)

    assert check("headers", {k: v.decode() for k, v in headers.items()}) == []
    assert check("payload", json.loads(value)) == []
    assert check("headers", {"ce_type": Registered.TYPE}), "required headers are checked"
    assert check("payload", {**payload, "contributor_id": None}), "payload types are checked"
    other_type = {k: v.decode() for k, v in headers.items()} | {"ce_type": "org.other.v1"}
    assert check("headers", other_type), "each message pins its ce_type"


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
