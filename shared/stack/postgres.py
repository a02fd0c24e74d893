"""A private PostgreSQL cluster under the state dir, on its own port (never the system cluster).

Layout: `<state_dir>/postgres/{data,run,postgres.log}`; `run` holds the Unix socket.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
from pathlib import Path

import asyncpg

from shared.stack.config import HOST, StackSettings
from shared.stack.process import (
    ComponentStatus,
    Notify,
    StackError,
    command_line,
    is_alive,
    is_root,
    log_problem,
    make_traversable,
    pid_exists,
    poll,
    port_open,
    quiet,
    read_pid,
    run,
)

# initdb and pg_ctl refuse to run as root, so as root the cluster belongs to this account.
OS_USER = "postgres"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def _data_dir(settings: StackSettings) -> Path:
    return settings.postgres_dir / "data"


def _socket_dir(settings: StackSettings) -> Path:
    return settings.postgres_dir / "run"


def _log_file(settings: StackSettings) -> Path:
    return settings.postgres_dir / "postgres.log"


def bin_dir(settings: StackSettings) -> Path | None:
    """The server binaries, preferring the major version an existing cluster was created with."""
    installed = {p.parent.parent.name: p.parent for p in DEBIAN_BINARIES.glob("*/bin/initdb")}
    version_file = _data_dir(settings) / "PG_VERSION"
    if version_file.is_file() and version_file.read_text().strip() in installed:
        return installed[version_file.read_text().strip()]
    if installed:
        return installed[max(installed, key=lambda v: [int(n) for n in v.split(".")])]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_owner(*command: str | Path) -> list[str | Path]:
    return ["runuser", "-u", OS_USER, "--", *command] if is_root() else list(command)


def _running_pid(settings: StackSettings) -> int | None:
    # A pid file left by a crash may name an unrelated process that reused the pid.
    data = _data_dir(settings)
    pid = read_pid(data / "postmaster.pid")
    if pid is None or not is_alive(pid) or str(data) not in command_line(pid):
        return None
    return pid


async def start(settings: StackSettings, notify: Notify = quiet) -> bool:
    """Create the cluster if needed and start it; False if it was already running."""
    binaries = bin_dir(settings)
    if binaries is None:
        raise StackError(
            "PostgreSQL server binaries (initdb) not found: apt-get install postgresql"
        )
    await _create_cluster(settings, binaries, notify)
    started = _running_pid(settings) is None
    if started:
        await _outlive_crashed_postmaster(settings)
        await _start_server(settings, binaries, notify)
    await _prepare(settings)
    return started


async def stop(settings: StackSettings, notify: Notify = quiet) -> bool:
    """Stop the cluster (fast mode: roll back open transactions); False if it was not running."""
    binaries = bin_dir(settings)
    if _running_pid(settings) is None or binaries is None:
        return False
    notify("stopping PostgreSQL")
    await run(
        *_as_owner(binaries / "pg_ctl", "stop", "-D", _data_dir(settings), "-m", "fast", "-w"),
        what="pg_ctl stop",
        cwd=settings.postgres_dir,
    )
    return True


def status(settings: StackSettings) -> ComponentStatus:
    pid = _running_pid(settings)
    return ComponentStatus(
        name="postgres",
        running=pid is not None,
        pid=pid,
        address=f"{HOST}:{settings.postgres_port}",
        detail=str(_data_dir(settings)),
    )


async def _create_cluster(settings: StackSettings, binaries: Path, notify: Notify) -> None:
    data = _data_dir(settings)
    if (data / "PG_VERSION").is_file():
        return
    notify("creating the PostgreSQL cluster")
    if data.exists():  # left over from an interrupted initdb
        shutil.rmtree(data)
    _socket_dir(settings).mkdir(parents=True, exist_ok=True, mode=0o700)
    password_file = settings.postgres_dir / ".initdb-password"
    password_file.touch(mode=0o600)
    password_file.write_text(settings.postgres_password + "\n")
    if is_root():
        make_traversable(settings.postgres_dir)
        for path in (settings.postgres_dir, _socket_dir(settings), password_file):
            shutil.chown(path, OS_USER, OS_USER)
    try:
        await run(
            *_as_owner(
                binaries / "initdb",
                "--pgdata",
                data,
                "--username",
                settings.postgres_user,
                "--pwfile",
                password_file,
                "--auth-local=trust",  # the socket dir is private (0700)
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",  # minimal machines have no generated locales
            ),
            what="initdb",
            cwd=settings.postgres_dir,
        )
    finally:
        password_file.unlink(missing_ok=True)


async def _outlive_crashed_postmaster(settings: StackSettings) -> None:
    """Wait (briefly) until a killed postmaster's pid is gone: it lingers as a zombie until
    init reaps it, and PostgreSQL refuses to start while the pid in its lock file exists."""
    pid = read_pid(_data_dir(settings) / "postmaster.pid")
    if pid is not None:

        async def gone() -> bool:
            return not pid_exists(pid)

        await poll(gone, 10)


async def _start_server(settings: StackSettings, binaries: Path, notify: Notify) -> None:
    if await port_open(HOST, settings.postgres_port):
        raise StackError(
            f"port {settings.postgres_port} is in use by another process; "
            "pick another with WFE_STACK_POSTGRES_PORT"
        )
    notify(f"starting PostgreSQL on port {settings.postgres_port}")
    options = shlex.join(
        [
            f"--port={settings.postgres_port}",
            f"--unix_socket_directories={_socket_dir(settings)}",
            f"--listen_addresses={HOST}",
            "--max_connections=200",
        ]
    )
    log = _log_file(settings)
    try:
        await run(
            *_as_owner(
                binaries / "pg_ctl",
                "start",
                "-D",
                _data_dir(settings),
                "-l",
                log,
                "-w",
                "-t",
                str(max(1, round(settings.start_timeout))),
                "-o",
                options,
            ),
            what="pg_ctl start",
            cwd=settings.postgres_dir,
        )
    except StackError as exc:
        raise StackError(f"{exc}; server log: {log_problem(log)} ({log})") from exc


async def _prepare(settings: StackSettings) -> None:
    """The application's database exists and the server runs with the stack's settings."""
    connection = await _connect(settings)
    try:
        exists = await connection.fetchval(
            "select 1 from pg_database where datname = $1", settings.postgres_database
        )
        if not exists:
            name = settings.postgres_database.replace('"', '""')
            await connection.execute(f'create database "{name}"')
        await _compress_wal(connection)
    except asyncpg.PostgresError as exc:
        database = settings.postgres_database
        raise StackError(f"preparing database {database!r} failed: {exc}") from exc
    finally:
        await connection.close()


async def _compress_wal(connection: asyncpg.Connection) -> None:
    """Full-page images in the write-ahead log compressed with lz4, where the server has it
    (PostgreSQL 15 and later, built with lz4). Measured in a 50,000-contributor policy
    publication: 5.2 KB of WAL per contributor without, 3.5 KB with, and less of the
    kernel's writeback CPU, which shares the machine with the services (docs/deploy.md)."""
    offered = await connection.fetchval(
        "select enumvals from pg_settings where name = 'wal_compression'"
    )
    if "lz4" not in (offered or []):
        return
    if await connection.fetchval("select current_setting('wal_compression')") != "lz4":
        await connection.execute("alter system set wal_compression = 'lz4'")
        await connection.execute("select pg_reload_conf()")


async def _connect(settings: StackSettings) -> asyncpg.Connection:
    """Connect over TCP with the password, as applications will; retry while the server warms up."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            return await asyncpg.connect(
                host=HOST,
                port=settings.postgres_port,
                user=settings.postgres_user,
                password=settings.postgres_password,
                database="postgres",
                timeout=5,
            )
        except (OSError, asyncpg.CannotConnectNowError, TimeoutError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise StackError(f"PostgreSQL on port {settings.postgres_port}: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StackError(f"PostgreSQL refused {settings.postgres_user!r}: {exc}") from exc
        await asyncio.sleep(0.2)
