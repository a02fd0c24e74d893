"""Where a server spends its time under load, with py-spy (`--profile`; optional: install it
with `pip install py-spy`, it is not a project dependency).

py-spy samples the process from outside, so the profiled server runs unmodified. Only
samples holding the GIL count (`--gil`): where the process spends CPU in Python, not where
it waits (for I/O, or for a CPU on a machine whose CPUs are all busy). The raw samples are
kept (for flame graphs). The summary takes the event-loop thread's samples by the library
of the innermost frame, then the project's own functions by the share of samples they
appear in, and the top leaves.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

OWN_CODE = ("services/", "shared/")
IDLE = ("EpollSelector.select (selectors.py", "select (selectors.py")
LIBRARIES = (
    ("_SelectorSocketTransport.write (asyncio", "socket writes (to PostgreSQL, clients, Kafka)"),
    ("(sqlalchemy/", "SQLAlchemy"),
    ("(asyncpg/", "asyncpg"),
    ("(h11/", "h11 (HTTP/1.1 parsing)"),
    ("(uvicorn/", "uvicorn"),
    ("(fastapi/", "FastAPI"),
    ("(starlette/", "Starlette"),
    ("(pydantic", "pydantic"),
    ("(json/", "json"),
    ("(jwt/", "PyJWT"),
    ("(aiokafka/", "aiokafka (Kafka client)"),
    ("(prometheus_client/", "prometheus_client"),
    ("(cedarpy/", "cedarpy (Cedar)"),
    ("(anyio/", "anyio (thread pool)"),
    ("(threading.py", "threading (thread pool hand-off)"),
    ("(queue.py", "threading (thread pool hand-off)"),
    ("(asyncio/", "asyncio (event loop)"),
)


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@asynccontextmanager
async def recording(pid: int, seconds: float, output: Path) -> AsyncIterator[None]:
    """Samples `pid` while the block runs (`seconds` at most), into raw collapsed stacks."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [spy, "record", "--pid", str(pid), "--duration", f"{seconds:g}", "--rate", "250"]
    command += ["--threads", "--gil", "--format", "raw", "--output", str(output), "--nonblocking"]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await asyncio.sleep(0.5)  # attached before the load starts
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # py-spy writes what it has, then exits
        await process.wait()


@dataclass
class Profile:
    busy: int = 0
    """Samples of the main thread, holding the GIL, not waiting in `select`."""
    libraries: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> str:
        return f"{100 * count / self.busy:.1f}%" if self.busy else "—"

    def own(self, top: int) -> list[tuple[str, int]]:
        return [(f, n) for f, n in self.inclusive.most_common() if _is_own(f)][:top]


def _library(leaf: str) -> str:
    if _is_own(leaf):
        return "own code (services/, shared/)"
    return next((name for marker, name in LIBRARIES if marker in leaf), "other")


def _is_own(frame: str) -> bool:
    """py-spy names files relative to the import path; a few of ours come out bare."""
    where = frame.rpartition(" (")[2]
    bare = "/" not in where and ".py:" in where
    return bare or any(where.startswith(p) for p in OWN_CODE)


def summarize(raw: Path) -> Profile:
    profile = Profile()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or len(frames) < 2 or not frames[0].endswith("MainThread"):
            continue
        n, frames = int(count), [f for f in frames[1:] if "(shared/cli/" not in f]
        if frames[-1].startswith(IDLE):
            continue
        profile.busy += n
        profile.libraries[_library(frames[-1])] += n
        profile.leaves[frames[-1]] += n
        for frame in set(frames):
            profile.inclusive[frame] += n
    return profile


def top_libraries(profiles: Sequence[tuple[str, Profile]], subject: str, count: int = 4) -> str:
    found = next((p for name, p in profiles if subject in name), None)
    if found is None or not found.busy:
        return "no profile in this run (`--profile DIR` adds one)"
    return ", ".join(f"{name} {found.share(n)}" for name, n in found.libraries.most_common(count))
