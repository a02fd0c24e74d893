"""The `wfe` command as a user runs it: `wfe dev` as a real process driven over HTTP, `wfe demo`
against it, every command's help, and the error paths (one red line, exit 1, no traceback).

Every command runs as `python -m shared.cli.main` in a scratch folder, with no WFE_* variable
from the test environment: `wfe dev` must not see the stack's PostgreSQL or Kafka, and an
error path must not depend on them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.core import TyperGroup

from shared.cli.main import app
from shared.demo.plan import build_plan
from tests.servers import RunningApp, free_port

WFE = [sys.executable, "-m", "shared.cli.main"]
STARTUP_DEADLINE = 60.0
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")}
    return {**env, "WFE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}


def wfe(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`wfe ARGS` run in `cwd`, whose `data` folder is its data folder, with `env` on top."""
    return subprocess.run(
        [*WFE, *args],
        cwd=cwd,
        env={**_env(cwd / "data"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    base_url: str
    token: str
    folder: Path
    stderr: Path

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """`wfe dev` on a free port with its own data folder, up and answering /healthz."""
    folder = tmp_path_factory.mktemp("wfe-dev")
    port = free_port()
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    args = [*WFE, "dev", "--port", str(port), "--data-dir", str(folder / "data")]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            args, cwd=folder, env=_env(folder / "data"), stdout=stdout, stderr=stderr
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        token = _wait_until_token(process, base_url, out, err)
        yield Dev(process, base_url, token, folder, err)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_token(process: subprocess.Popen[bytes], base_url: str, out: Path, err: Path) -> str:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"wfe dev exited with {process.returncode}: {err.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                # The admin token is printed on a line of its own (`--demo` prints on after it).
                tokens = [t for t in map(str.strip, out.read_text().splitlines()) if JWT.match(t)]
                if tokens:
                    return tokens[0]
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"wfe dev did not answer /healthz in {STARTUP_DEADLINE} s: {err.read_text()}")


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_contractors_whole_lifecycle_over_http(dev: Dev) -> None:
    today = datetime.now(UTC).date()
    with dev.client() as http:
        created = _ok(
            http.post(
                "/v1/contributors",
                json={
                    "contributor_type": "contractor",
                    "display_name": "Ada Example",
                    "email": "ada.e2e@example.com",
                    "owning_function": "procurement",
                    "sponsor": "emp-42",
                    "business_unit": "Logistics",
                    "source_references": [{"system": "fieldglass", "external_id": "FG-E2E-1"}],
                },
            ),
            201,
        )
        path = f"/v1/contributors/{created['id']}"
        assert _ok(http.post(f"{path}/onboarding", json={}))["lifecycle"] == "onboarding"
        checks = ("identity_verification", "background_check", "nda", "security_training")
        for check in (*checks, "misclassification_assessment"):
            valid = (today + timedelta(days=365)).isoformat()
            _ok(
                http.post(
                    f"{path}/checks",
                    json={"check": check, "outcome": "passed", "valid_until": valid},
                )
            )
        _ok(http.post(f"{path}/contracts", json=_contract(today)))
        assert _ok(http.post(f"{path}/activation", json={}))["lifecycle"] == "active"
        expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        grant = {
            "grant_id": "g-e2e-1",
            "resource": "erp:finance-reports",
            "classification": "confidential",
            "expires_at": expires,
        }
        assert len(_ok(http.post(f"{path}/access-grants", json=grant))["access_grants"]) == 1
        offboarded = _ok(http.post(f"{path}/offboarding", json={"reason": "contract_ended"}))
        assert offboarded["lifecycle"] == "offboarded"
        assert offboarded["access_grants"] == []
        history = [h["type"].split(".")[-2] for h in _ok_list(http.get(f"{path}/history"))]
        assert history[:2] == ["registered", "onboarding_started"]
        assert history[-2:] == ["access_revoked", "offboarded"]
        # Policy runs in the same process and reads the same stream, asynchronously.
        decision = _eventually(http, f"/v1/decisions/{created['id']}", offboarded["version"])
        assert decision["contributor_type"] == "contractor"
        assert decision["grants"] == []


def _contract(today: date) -> dict[str, str]:
    return {
        "contract_id": "MSA-E2E-1",
        "legal_entity": "Ada Example Consulting",
        "start": (today - timedelta(days=10)).isoformat(),
        "end": (today + timedelta(days=80)).isoformat(),
        "terms_reference": "https://contracts.example.com/MSA-E2E-1",
    }


def _ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def _eventually(http: httpx.Client, path: str, version: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = http.get(path)
        if response.status_code == 200 and response.json()["based_on_version"] >= version:
            found: dict[str, Any] = response.json()
            return found
        assert response.status_code in (200, 404), response.text
        time.sleep(0.2)
    pytest.fail(f"{path} did not reach version {version}")


def test_reports_if_the_app_has_them(dev: Dev) -> None:
    """Reporting is being added alongside: every report that needs no parameter answers."""
    with dev.client() as http:
        paths = _ok(http.get("/openapi.json"))["paths"]
        reports = [
            path
            for path, operations in paths.items()
            if path.startswith("/v1/reports")
            and "get" in operations
            and not any(p.get("required") for p in operations["get"].get("parameters", []))
        ]
        assert reports, "the embedded mode serves no parameterless report"
        for report in reports:
            response = http.get(report)
            assert response.status_code == 200, (report, response.text)
            assert response.headers["content-type"].startswith("application/json"), report


def test_demo_fills_the_running_dev_server(dev: Dev) -> None:
    # No --token: the demo mints one from the same data folder (WFE_DATA_DIR) as `wfe dev`.
    args = ("--url", dev.base_url, "--contributors", "150", "--seed", "3")
    done = wfe("demo", *args, cwd=dev.folder, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = {
        m["what"].strip(): m["value"]
        for m in re.finditer(
            r"│ (?P<what>[a-z :_/]+?)\s+│\s+(?P<value>[\d,.]+)( s)?\s+│", done.stdout
        )
    }
    assert summary["contributors"] == "150"
    assert summary["events rejected"] == "0"
    assert int(summary["events accepted"].replace(",", "")) > 2000
    assert int(summary["duplicates detected"]) == 2
    assert float(summary["events/s"].replace(",", "")) > 0
    with dev.client() as http:
        listed = _ok(http.get("/v1/contributors", params={"type": "digital_agent", "limit": 5}))
        assert listed["items"]


def test_dev_with_demo_fills_itself_and_its_reports(tmp_path: Path) -> None:
    """The README's run command: the server comes up, then fills itself through its APIs."""
    port = free_port()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    args = [*WFE, "dev", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--demo", "40"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            args, cwd=tmp_path, env=_env(tmp_path / "data"), stdout=stdout, stderr=stderr
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        token = _wait_until_token(process, base_url, out, err)
        deadline = time.monotonic() + 300
        while "events accepted" not in out.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, err.read_text()
            time.sleep(0.5)
        printed = out.read_text()
        assert "events accepted" in printed, err.read_text()
        assert re.search(r"events rejected\s+│\s+0\s+│", printed), printed
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
            listed = _ok(http.get("/v1/contributors", params={"limit": 100}))
            assert len(listed["items"]) >= 30

            def reported() -> int:
                body = _ok(http.get("/v1/reports/composition"))
                return sum(int(line["count"]) for line in body["items"])

            while reported() < len(listed["items"]) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert reported() == len(listed["items"])
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_demo_fills_the_registry_on_the_real_stack(
    registry: RunningApp, tmp_path: Path
) -> None:
    """The same command against `wfe serve registry`'s app on PostgreSQL and Kafka."""
    token = registry.authenticator.mint(
        "demo", ["contributors:read", "contributors:write", "events:ingest", "scim"]
    )
    args = ["demo", "--url", registry.base_url, "--token", token]
    process = await asyncio.create_subprocess_exec(
        *WFE,
        *args,
        "--contributors",
        "30",
        "--seed",
        "11",
        cwd=tmp_path,
        env=_env(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    printed = out.decode()
    assert process.returncode == 0, printed + err.decode()
    assert re.search(r"events rejected\s+│\s+0\s+│", printed), printed
    plan = build_plan(11, 30, 2, datetime.now(UTC).date())
    subjects = {e.subject for e in plan.cloudevents}
    assert subjects
    async with registry.client("contributors:read") as http:
        for subject in sorted(subjects):
            found = await http.get(f"/v1/contributors/{subject}")
            assert found.status_code == 200, (subject, found.text)


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command the `wfe` app has, so new ones are covered too."""
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append(path)
        if isinstance(command, TyperGroup):
            context = typer.Context(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def test_every_command_has_help(tmp_path: Path) -> None:
    paths = _command_paths()
    assert {("dev",), ("demo",), ("stack",), ("serve", "relay"), ("token", "create")} <= set(paths)
    assert {("replay",), ("tail",), ("bench",), ("rebuild",)} <= set(paths)
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(lambda p: wfe(*p, "--help", cwd=tmp_path), paths))
    for path, result in zip(paths, done, strict=True):
        assert result.returncode == 0, (path, result.stderr)
        assert "Usage:" in result.stdout, path


def test_token_with_an_unknown_scope_is_one_line_error(tmp_path: Path) -> None:
    line = assert_one_line_error(wfe("token", "create", "--scope", "nope", cwd=tmp_path))
    assert "nope" in line


def test_demo_with_nothing_listening_is_one_line_error(tmp_path: Path) -> None:
    done = wfe("demo", "--url", "http://127.0.0.1:1", "--contributors", "20", cwd=tmp_path)
    assert "cannot reach http://127.0.0.1:1" in assert_one_line_error(done)


def test_demo_with_a_refused_token_is_one_line_error(dev: Dev, tmp_path: Path) -> None:
    args = ("--url", dev.base_url, "--token", "not-a-token", "--contributors", "20")
    done = wfe("demo", *args, cwd=tmp_path)
    assert "refused the token" in assert_one_line_error(done)


def test_relay_without_kafka_is_one_line_error(tmp_path: Path) -> None:
    assert "Kafka" in assert_one_line_error(wfe("serve", "relay", cwd=tmp_path))


def test_tail_and_replay_follow_and_republish_a_contributor(dev: Dev, tmp_path: Path) -> None:
    """Against `wfe dev` (its in-process log): the history a contributor has, on the topic;
    replayed, it is on the topic twice, and the consumers skip the copies."""
    with dev.client() as http:
        registration = {
            "contributor_type": "employee",
            "display_name": "Tai Led",
            "email": "tai.led@example.com",
            "owning_function": "hr",
            "sponsor": "emp-7",
            "business_unit": "Logistics",
        }
        created = _ok(http.post("/v1/contributors", json=registration), 201)
        cid = created["id"]
        _ok(http.post(f"/v1/contributors/{cid}/onboarding", json={}))
        history = _ok_list(http.get(f"/v1/contributors/{cid}/history"))
    tail_args = ("tail", "--from-beginning", "--contributor", cid, "--topic", "registry")
    first = wfe(*tail_args, "--limit", str(len(history)), cwd=dev.folder, timeout=60)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert [f"v{h['version']}" for h in history] == [line.split()[4] for line in lines]
    assert all(cid in line for line in lines)

    replayed = wfe("replay", "registry", "--contributor", cid, cwd=dev.folder, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    assert f"published {len(history)} events" in replayed.stderr
    twice = wfe(*tail_args, "--limit", str(2 * len(history)), "--json", cwd=dev.folder, timeout=60)
    assert twice.returncode == 0, twice.stderr
    versions = [json.loads(line)["sequence"] for line in twice.stdout.strip().splitlines()]
    assert versions == [h["version"] for h in history] * 2


def test_dev_stops_cleanly_on_sigterm(dev: Dev) -> None:
    """Last: the other tests share this `wfe dev`."""
    dev.process.send_signal(signal.SIGTERM)
    code = dev.process.wait(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM).
    assert code in (0, -signal.SIGTERM)
    assert "Traceback" not in dev.stderr.read_text()


def test_replay_and_tail_error_paths_are_one_line(tmp_path: Path) -> None:
    nothing_chosen = wfe("replay", "registry", cwd=tmp_path)
    assert "say what to replay" in assert_one_line_error(nothing_chosen)
    backwards = wfe("replay", "policy", "--from-position", "9", "--to-position", "2", cwd=tmp_path)
    assert "is after --to-position" in assert_one_line_error(backwards)
    bad_time = wfe("replay", "registry", "--since", "last tuesday", cwd=tmp_path)
    assert "ISO 8601" in assert_one_line_error(bad_time)
    no_data = wfe("replay", "registry", "--all", cwd=tmp_path)
    assert "no registry database" in assert_one_line_error(no_data)
    no_log = wfe("tail", cwd=tmp_path)
    assert "no event log" in assert_one_line_error(no_log)


def test_unreachable_database_and_broker_are_one_line_errors(tmp_path: Path) -> None:
    nowhere = {"WFE_DATABASE_URL": "postgresql+asyncpg://wfe:wfe@127.0.0.1:1/wfe"}
    replay = wfe("replay", "registry", "--all", cwd=tmp_path, env=nowhere)
    assert "the registry database at postgresql" in assert_one_line_error(replay)
    tail = wfe("tail", cwd=tmp_path, env={"WFE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert "127.0.0.1:1" in assert_one_line_error(tail)
    bench = wfe(
        "bench", "--quick", cwd=tmp_path, env={**nowhere, "WFE_KAFKA_BOOTSTRAP_SERVERS": "x:1"}
    )
    assert "cannot reach PostgreSQL" in assert_one_line_error(bench)


def test_bench_without_a_stack_or_with_an_unknown_harness_is_one_line_error(
    tmp_path: Path,
) -> None:
    assert "no stack" in assert_one_line_error(wfe("bench", cwd=tmp_path))
    unknown = wfe("bench", "--only", "nope", cwd=tmp_path)
    assert "no harness nope" in assert_one_line_error(unknown)
