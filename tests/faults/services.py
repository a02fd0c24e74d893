"""A service run as its own process (`wfe serve registry`), as in production, so a test can
SIGKILL it, watch its memory and read its log; and the checker that reads the registry's
event store directly, never through the API under test."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from shared.db import create_engine
from shared.http.auth import SCOPES, Authenticator
from tests.faults.harness import REPO
from tests.servers import SIGNING_KEY, free_port

WFE = Path(sys.executable).parent / "wfe"
RETRYABLE = (httpx.TransportError,)


@dataclass
class ServiceProcess:
    """One service on a fixed port; `kill` + `start` brings it back on the same port."""

    service: str
    database_url: str
    bootstrap: str
    topic: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    log: Path = field(default_factory=lambda: Path(f"/tmp/wfe-service-{uuid.uuid4().hex[:8]}.log"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, *scopes: str, timeout: float = 15) -> httpx.AsyncClient:
        token = Authenticator(SIGNING_KEY).mint("faults", scopes or SCOPES)
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "WFE_DATABASE_URL": self.database_url,
            "WFE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "WFE_TOPIC_REGISTRY": self.topic,
            "WFE_SIGNING_KEY": SIGNING_KEY,
            "WFE_DATA_DIR": str(self.data_dir),
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(WFE), "serve", self.service, "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, within: float = 60) -> float:
        """Waits until the service answers /healthz; returns how long that took."""
        began = time.monotonic()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:
            while True:
                if not self.running():
                    raise AssertionError(f"{self.service} exited: {self.log.read_text()[-2000:]}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return time.monotonic() - began
                except RETRYABLE:
                    pass
                if time.monotonic() - began > within:
                    raise AssertionError(f"{self.service} not up after {within:.0f}s")
                await asyncio.sleep(0.1)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rss_bytes(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc status")


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    stream_id: str
    version: int
    type: str
    correlation_id: str | None


async def registry_events(database_url: str) -> list[StoredEvent]:
    engine = create_engine(database_url, schema="registry", pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT event_id::text, stream_id, version, type,"
                    " metadata->>'correlation_id' FROM events ORDER BY position"
                )
            )
            return [StoredEvent(*row) for row in rows]
    finally:
        await engine.dispose()


def streams_with_holes(events: list[StoredEvent]) -> dict[str, list[int]]:
    """I3: the streams whose versions are not exactly 1..n (empty when all are)."""
    per_stream: dict[str, list[int]] = {}
    for e in events:
        per_stream.setdefault(e.stream_id, []).append(e.version)
    return {s: sorted(v) for s, v in per_stream.items() if sorted(v) != list(range(1, len(v) + 1))}


def effects_per_key(events: list[StoredEvent]) -> Counter[str | None]:
    """I2: how many events each request (its correlation id = its idempotency key) made."""
    return Counter(e.correlation_id for e in events)


@dataclass
class WriteStats:
    """What the clients saw: answers by status, dropped connections, replays."""

    acknowledged: dict[str, dict[str, object]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    """Connections that ended without an answer, by exception name."""
    replays: int = 0
    in_flight: int = 0
    unavailable: list[httpx.Response] = field(default_factory=list)


async def write_until_acknowledged(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, object],
    key: str,
    stats: WriteStats,
    deadline: float = 180,
) -> dict[str, object]:
    """Sends the write, and again under the same `Idempotency-Key` after a dropped
    connection or a 503, until it is acknowledged. The key doubles as correlation id, so
    the checker can find the events each request made."""
    headers = {"Idempotency-Key": key, "X-Correlation-Id": key}
    give_up = time.monotonic() + deadline
    while True:
        stats.in_flight += 1
        try:
            response = await http.request(method, path, json=body, headers=headers)
        except RETRYABLE as exc:
            stats.dropped[type(exc).__name__] += 1
            response = None
        finally:
            stats.in_flight -= 1
        if response is not None:
            stats.statuses[response.status_code] += 1
            if response.is_success:
                stats.replays += response.headers.get("idempotent-replayed") == "true"
                answer: dict[str, object] = response.json()
                stats.acknowledged[key] = answer
                return answer
            if response.status_code != 503:
                raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
            stats.unavailable.append(response)
        if time.monotonic() > give_up:
            raise AssertionError(f"{method} {path} ({key}) never acknowledged")
        await asyncio.sleep(0.05)


async def register_and_rename(
    http: httpx.AsyncClient, n: int, stats: WriteStats, renames: Callable[[int], bool]
) -> None:
    """Client `n`'s writes: it registers a contributor, then renames it while
    `renames(w)` says the w-th rename should go ahead; each write until acknowledged."""
    created = await write_until_acknowledged(
        http,
        "POST",
        "/v1/contributors",
        {
            "contributor_type": "employee",
            "display_name": f"Client {n}",
            "owning_function": "hr",
            "sponsor": "sponsor-1",
            "business_unit": f"unit-{n}",
        },
        f"c{n}-w0",
        stats,
    )
    w = 1
    while renames(w):
        await write_until_acknowledged(
            http,
            "PATCH",
            f"/v1/contributors/{created['id']}",
            {"display_name": f"Client {n} write {w}"},
            f"c{n}-w{w}",
            stats,
        )
        w += 1
