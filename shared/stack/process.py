"""Small process helpers shared by the PostgreSQL and Kafka launchers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Notify = Callable[[str], None]

# Maven ends with generic "[ERROR] -> [Help 1]" lines and Java with stack frames: the first
# error line names the cause.
_ERROR_LINE = re.compile(r"\b(ERROR|FATAL|PANIC)\b|error:|Exception\b")
_JAVA_EXCEPTION = re.compile(r"[\w.$]+(Exception|Error)\b")


def quiet(_: str) -> None:
    """A `Notify` that drops progress messages (tests, scripts)."""


class StackError(Exception):
    """A failure worth one line to the user: what went wrong and where to look."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    detail: str


def is_root() -> bool:
    return os.geteuid() == 0


async def run(
    *command: str | Path,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    time_limit: float = 300.0,
) -> str:
    """Run a command to completion; on failure raise `StackError` quoting its telling line."""
    args = [str(part) for part in command]
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=None if env is None else {**os.environ, **env},
            cwd=cwd,
        )
    except OSError as exc:
        raise StackError(f"{what}: cannot run {args[0]}: {exc.strerror}") from exc
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), time_limit)
    except TimeoutError:
        raise StackError(f"{what}: `{args[0]}` did not finish within {time_limit:.0f} s") from None
    finally:
        if proc.returncode is None:  # timed out or cancelled (Ctrl-C)
            # SIGTERM, not SIGKILL: runuser forwards it, and initdb cleans up on it.
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise StackError(f"{what} failed: {summary(text) or f'exit code {proc.returncode}'}")
    return text


def summary(output: str) -> str:
    """The line of a tool's output that names the problem: its first error line, else its last."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if _ERROR_LINE.search(line)), None)
    if first is None:
        return lines[-1] if lines else ""
    # Java loggers print "ERROR ... fatal exception" and name the exception on the next line.
    if first + 1 < len(lines) and _JAVA_EXCEPTION.match(lines[first + 1]):
        return f"{lines[first]}: {lines[first + 1]}"
    return lines[first]


async def apt_install(packages: Sequence[str], notify: Notify) -> None:
    """Install Debian packages; only possible as root (CI machines), otherwise say what to do."""
    names = " ".join(packages)
    if not is_root() or shutil.which("apt-get") is None:
        raise StackError(f"missing prerequisites: install them first (apt-get install {names})")
    notify(f"installing {names} with apt-get")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    await run("apt-get", "update", "-q", what="apt-get update", env=env, time_limit=600)
    install = ["apt-get", "install", "-y", "-q", *packages]
    await run(*install, what="apt-get install", env=env, time_limit=1200)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def is_alive(pid: int) -> bool:
    """Whether the process still runs; an exited one stays a zombie until its parent reaps it."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (a broker a test started)
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def pid_exists(pid: int) -> bool:
    """Whether the pid is taken, zombies included: what PostgreSQL's lock-file check sees."""
    return Path(f"/proc/{pid}").exists()


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def tail(path: Path, lines: int = 15) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(content[-lines:])


def log_mentions(log: Path, text: str) -> bool:
    try:
        return text in log.read_text(errors="replace")
    except OSError:
        return False


def log_problem(log: Path) -> str:
    """The most telling line near the end of a server log."""
    try:
        return summary(log.read_text(errors="replace")[-8000:]) or "empty log"
    except OSError:
        return "no log written"


def spawn_detached(*argv: str, log: Path) -> int:
    """Start a server in its own session, output to `log`, so it outlives this command's terminal.

    posix_spawn rather than Popen: a Popen object warns when collected with its child running.
    """
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(fd)


def make_traversable(path: Path) -> None:
    """Let other users (the `postgres` account) walk down to `path` without reading siblings."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


async def poll(check: Callable[[], Awaitable[bool]], seconds: float, interval: float = 0.2) -> bool:
    """Await `check` until it answers True or `seconds` pass; False on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True
