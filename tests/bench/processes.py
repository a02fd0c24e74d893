"""Services under load run in their own processes: a load generator sharing the server's
event loop (as `tests/servers.py` does for functional tests) would take its CPU time from
the server and queue behind its requests.

A server is `wfe serve <service>` (or uvicorn for the bare reference app) on a free port,
configured through the environment like a deployment: its own fresh database, private Kafka
topics, a signing key. Its output goes to a log file, shown if it fails to start.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.http.auth import SCOPES, Authenticator
from tests.bench.http_client import Endpoint, HttpConnection
from tests.servers import free_port, fresh_topics

REPO = Path(__file__).resolve().parents[2]
SIGNING_KEY = "bench-signing-key-" + "k" * 32
HOST = "127.0.0.1"
TOPIC_PARTITIONS = 6


def wfe_command() -> list[str]:
    """The `wfe` script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "wfe"
    if script.exists():
        return [str(script)]
    found = shutil.which("wfe")
    if found is None:
        raise RuntimeError("no `wfe` command: install the project (make run) first")
    return [found]


@dataclass
class Server:
    name: str
    process: asyncio.subprocess.Process
    endpoint: Endpoint
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


async def _wait_healthy(server: Server, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    request = server.endpoint.request("GET", "/healthz", b"", "application/json")
    while time.monotonic() < deadline:
        if server.process.returncode is not None:
            break
        try:
            connection = await HttpConnection.open(server.endpoint.host, server.endpoint.port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            if (await connection.exchange(request)).status == 200:
                return
        finally:
            await connection.close()
        await asyncio.sleep(0.1)
    output = server.log.read_text(errors="replace")[-4000:]
    raise RuntimeError(f"{server.name} did not become healthy in {seconds:g} s:\n{output}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


@asynccontextmanager
async def running(
    name: str, command: list[str], env: Mapping[str, str], port: int, token: str | None = None
) -> AsyncIterator[Server]:
    """The command running until the block ends; healthy (GET /healthz) before it starts.
    Its output is kept in a temporary file if anything fails."""
    log = Path(tempfile.gettempdir()) / f"wfe-bench-{name}-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    server = Server(name, process, Endpoint(HOST, port, token), log)
    try:
        await _wait_healthy(server, 60)
        yield server
    except BaseException:
        print(f"{name}'s output is in {log}", file=sys.stderr)
        raise
    else:
        log.unlink(missing_ok=True)
    finally:
        await _stop(process)


@dataclass(frozen=True)
class Stack:
    """Where a served service keeps its data: a database of its own, private topics."""

    database_url: str
    kafka: str
    topics: Mapping[str, str]
    data_dir: Path

    def environment(self) -> dict[str, str]:
        return {
            "WFE_DATABASE_URL": self.database_url,
            "WFE_KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "WFE_SIGNING_KEY": SIGNING_KEY,
            "WFE_DATA_DIR": str(self.data_dir),
            **{f"WFE_TOPIC_{role.upper()}": topic for role, topic in self.topics.items()},
        }

    def token(self) -> str:
        return Authenticator(SIGNING_KEY).mint("bench", SCOPES)


@asynccontextmanager
async def stack(database_url: str, kafka: str) -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="wfe-bench-") as data_dir:
        # Topics of its own: what a benchmark publishes never reaches the usual topics.
        async with fresh_topics(kafka, "bench", TOPIC_PARTITIONS) as topics:
            yield Stack(database_url, kafka, topics.model_dump(), Path(data_dir))


@asynccontextmanager
async def service(name: str, where: Stack) -> AsyncIterator[Server]:
    """`wfe serve <name>` against `where`, as deployed: one uvicorn worker, relay included."""
    port = free_port()
    command = [*wfe_command(), "serve", name, "--port", str(port)]
    async with running(name, command, where.environment(), port, where.token()) as server:
        yield server


@asynccontextmanager
async def bare_app() -> AsyncIterator[Server]:
    """The HTTP ceiling: FastAPI with one JSON POST route, one uvicorn worker, no database."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.bench.bare_app:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    async with running("bare-fastapi", command, {}, port) as server:
        yield server
