"""Reports of the service benchmarks: facts, a targets table and measurement tables, printed
with rich and written as a marker-delimited section of docs/benchmarks.md that belongs to
one benchmark (every other section of the file is kept as it is)."""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable

from tests.bench.drivers import Measurement
from tests.bench.machine import _cpu_model
from tests.bench.report import DOCUMENT_TITLE
from tests.bench.tables import ServerFacts

DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
Rows = list[list[str]]


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: Rows
    text_columns: frozenset[int] = frozenset({0, 1})
    """The columns that hold text (left-aligned); the others hold figures."""


@dataclass(frozen=True)
class Target:
    claim: str
    measured: float
    wanted: float
    unit: str
    peers: str
    """The measured figure as a ratio of the peers measured in the same run."""
    at_most: bool = False
    """A latency: met when the figure is at most `wanted`."""

    @property
    def met(self) -> bool:
        return self.measured <= self.wanted if self.at_most else self.measured >= self.wanted

    def row(self) -> list[str]:
        sign = "≤" if self.at_most else "≥"
        verdict = "met" if self.met else "MISSED"
        return [
            self.claim,
            f"{figure(self.measured)} {self.unit}",
            f"{sign} {figure(self.wanted)} {self.unit}",
            ratio(self.measured, self.wanted),
            verdict,
            self.peers,
        ]


TARGET_HEADER = ["target", "measured", "wanted", "of wanted", "verdict", "vs peers (same run)"]


@dataclass
class Section:
    key: str
    title: str
    facts: list[str]
    targets: list[Target] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    method: list[str] = field(default_factory=list)

    @property
    def markers(self) -> tuple[str, str]:
        return f"<!-- bench:{self.key}:start -->", f"<!-- bench:{self.key}:end -->"

    def all_tables(self) -> list[Table]:
        rows = [t.row() for t in self.targets]
        targets = Table("Targets", TARGET_HEADER, rows, frozenset({0, 4, 5}))
        return [targets, *self.tables] if self.targets else self.tables


def ratio(value: float, of: float | None) -> str:
    """`value` as a multiple of `of`; ∞ when it is infinite (not answered in time)."""
    if not of or math.isnan(value) or math.isinf(of):
        return "—"
    return "∞" if math.isinf(value) else f"{value / of:.2f}x"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def figure(value: float) -> str:
    if math.isinf(value):
        return "∞"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def ms(m: Measurement, p: float) -> str:
    value = m.percentile_ms(p)
    if value is None:
        return "—"
    return "∞" if math.isinf(value) else f"{value:,.1f}"


def cores(seconds: float | None, elapsed: float) -> str:
    return "—" if seconds is None or not elapsed else f"{seconds / elapsed:.2f}"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux); None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int] | None:
    """(busy, total) jiffies of every CPU so far, all processes of the machine included."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def busy_seconds(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float:
    """CPU seconds of every CPU of the machine between two `machine_busy` readings."""
    if before is None or after is None:
        return 0.0
    return (after[0] - before[0]) / os.sysconf("SC_CLK_TCK")


def cpu_with_children() -> float:
    """This process's CPU time and that of its children that ended and were waited for
    (processes a rebuild or a publication started, once it returns)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    if before is None or after is None or after[1] == before[1]:
        return "unknown"
    return f"{100 * (after[0] - before[0]) / (after[1] - before[1]):.0f}%"


def profile_option(profile: Path | None) -> str:
    """The `--profile` part of a harness's command line."""
    return f" --profile {profile}" if profile else ""


@dataclass
class RunRecord:
    """When a harness run began and how busy the machine was then: the first lines of its
    section, once the run is over."""

    began: float = field(default_factory=time.perf_counter)
    busy: tuple[int, int] | None = field(default_factory=machine_busy)
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def facts(self, command: str, mode: str, server: ServerFacts) -> list[str]:
        wall = time.perf_counter() - self.began
        return [
            f"Command: `{command}`",
            f"Run: {self.date}, {mode} mode, wall time {wall:.0f} s; all CPUs busy"
            f" {busy_share(self.busy, machine_busy())} of the run (every process on the machine)",
            *describe_stack(server),
        ]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def describe_stack(server: ServerFacts) -> list[str]:
    durable = "durable commits" if server.durable else "NOT DURABLE: figures are not comparable"
    accelerated = [p for p in ("uvloop", "httptools") if _version(p) != "not installed"]
    http = (
        f"with {', '.join(accelerated)}"
        if accelerated
        else "asyncio event loop and the pure-Python h11 parser (neither uvloop nor httptools"
        " is installed)"
    )
    return [
        f"Machine: {os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()}"
        f" {platform.release()}; the services, PostgreSQL, Kafka and the load generator share"
        " these CPUs, and the machine is shared with other work",
        f"Python {platform.python_version()}; FastAPI {_version('fastapi')}, Starlette"
        f" {_version('starlette')}, uvicorn {_version('uvicorn')} ({http}), pydantic"
        f" {_version('pydantic')}, SQLAlchemy {_version('sqlalchemy')}, asyncpg"
        f" {_version('asyncpg')}",
        f"PostgreSQL {server.version}: synchronous_commit={server.synchronous_commit},"
        f" fsync={server.fsync} ({durable})",
    ]


def print_section(section: Section, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:
        console.width = 160  # piped to a file: no terminal to fit, keep rows on one line
    for line in section.facts:
        console.print(line, markup=False, highlight=False)
    for table in section.all_tables():
        rich = RichTable(title=table.title, title_justify="left")
        for i, name in enumerate(table.header):
            rich.add_column(name, justify="left" if i in table.text_columns else "right")
        for row in table.rows:
            rich.add_row(*row)
        console.print(rich)


def markdown(section: Section) -> str:
    start, end = section.markers
    lines = [start, f"## {section.title}", ""]
    lines += [f"- {fact}" for fact in section.facts]
    for table in section.all_tables():
        lines += ["", f"### {table.title}", "", "| " + " | ".join(table.header) + " |"]
        aligns = ["---" if i in table.text_columns else "--:" for i in range(len(table.header))]
        lines.append("|" + "|".join(aligns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    if section.method:
        lines += ["", "### How it is measured", ""]
        lines += [f"- {item}" for item in section.method]
    lines.append(end)
    return "\n".join(lines) + "\n"


def write(path: Path, section: Section, after: Sequence[str] = ()) -> None:
    """Replace the section's part of `path`, keeping everything else; a new section goes
    after the last existing section named in `after`, or at the end."""
    start, end = section.markers
    text = path.read_text() if path.exists() else DOCUMENT_TITLE
    new = markdown(section)
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + new + rest.split(end, 1)[1].removeprefix("\n")
    else:
        anchors = [f"<!-- bench:{key}:end -->\n" for key in after]
        found = [a for a in anchors if a in text]
        if found:
            head, tail = text.split(found[-1], 1)
            text = head + found[-1] + "\n" + new + ("\n" + tail.lstrip("\n") if tail else "")
        else:
            text = text.rstrip("\n") + "\n\n" + new
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
