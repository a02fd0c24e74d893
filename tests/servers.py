"""Services under test, served by uvicorn on a free loopback port inside the test process,
and what they run on: a fresh PostgreSQL database and fresh Kafka topics, removed after."""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from shared.http.auth import SCOPES, Authenticator
from shared.settings import ServiceSettings, Topics

SIGNING_KEY = "test-signing-key-" + "x" * 32
LOOPBACK = "127.0.0.1"
_LOWEST_PORT = 20000


def free_port() -> int:
    """A loopback port nobody listens on, for a server started in another process. Drawn
    from below the kernel's ephemeral range: a port the kernel gave out (a bind to 0)
    stays unbound until the server binds it, or binds it again after a kill, and any
    outgoing connection meanwhile may be given it."""
    ephemeral_from = _ephemeral_ports_from()
    draw = random.SystemRandom()
    for _ in range(200):
        port = draw.randrange(_LOWEST_PORT, max(ephemeral_from, _LOWEST_PORT + 1000))
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port from {_LOWEST_PORT} up to {ephemeral_from}")


def _ephemeral_ports_from() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:
        return 49152  # not Linux: IANA's dynamic ports, where BSD and macOS begin theirs


@asynccontextmanager
async def fresh_postgres_database(admin_url: str) -> AsyncIterator[str]:
    url = make_url(admin_url)
    name = f"wfe_test_{uuid.uuid4().hex[:10]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # A connection for each step, none held in between: a session-long database outlives
    # the fault tests' PostgreSQL restart.
    await _admin(dsn, f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(dsn: str, statement: str) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_topics(bootstrap: str, prefix: str, partitions: int = 3) -> AsyncIterator[Topics]:
    """Topics of their own for the services under test: a broker kept between runs (a
    developer's stack) holds every event earlier runs published on the usual topics, which
    a fresh consumer would read from the start."""
    tag = uuid.uuid4().hex[:10]
    topics = Topics(
        registry=f"{prefix}.{tag}.registry",
        policy=f"{prefix}.{tag}.policy",
        deadletter=f"{prefix}.{tag}.dlq",
    )
    names = [topics.registry, topics.policy, topics.deadletter]
    async with created_topics(bootstrap, names, partitions):
        yield topics


@asynccontextmanager
async def created_topics(bootstrap: str, names: list[str], partitions: int) -> AsyncIterator[None]:
    """These topics, created, and deleted afterwards. An admin client apiece for creating
    and deleting, as a fault test may restart the broker in between."""
    new = [NewTopic(name, partitions, 1) for name in names]
    await _kafka_admin(bootstrap, lambda admin: admin.create_topics(new))
    try:
        yield
    finally:
        await _kafka_admin(bootstrap, lambda admin: admin.delete_topics(names))


async def _kafka_admin(
    bootstrap: str, act: Callable[[AIOKafkaAdminClient], Awaitable[object]]
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await act(admin)
    finally:
        await admin.close()


@asynccontextmanager
async def isolated_settings(
    admin_url: str, bootstrap: str, data_dir: Path, prefix: str, partitions: int = 3
) -> AsyncIterator[ServiceSettings]:
    """Settings for a fresh PostgreSQL database and fresh topics, removed afterwards."""
    async with (
        fresh_topics(bootstrap, prefix, partitions) as topics,
        fresh_postgres_database(admin_url) as url,
    ):
        yield ServiceSettings(
            database_url=url,
            kafka_bootstrap_servers=bootstrap,
            data_dir=data_dir,
            signing_key=SIGNING_KEY,
            topics=topics,
        )


@dataclass
class RunningApp:
    base_url: str
    authenticator: Authenticator

    def client(self, *scopes: str, subject: str = "tester") -> httpx.AsyncClient:
        token = self.authenticator.mint(subject, scopes or SCOPES)
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[RunningApp]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningApp(f"http://127.0.0.1:{port}", app.state.authenticator)
    finally:
        server.should_exit = True
        await task
