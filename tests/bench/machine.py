"""What a figure was measured on: it means little without the machine and the versions."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path

import psycopg


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else "unknown CPU"


def describe_machine() -> list[str]:
    libpq = psycopg.pq.version()
    psycopg_impl = f"{psycopg.pq.__impl__} implementation, libpq {libpq // 10000}.{libpq % 10000}"
    if psycopg.pq.__impl__ == "python":
        psycopg_impl += (
            ": the eventsourcing library runs slower on it than on psycopg-binary or psycopg-c"
        )
    return [
        f"Machine: {os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()}"
        f" {platform.release()}; the database server runs on the same CPUs, and the machine"
        " is shared with other work",
        f"Python {platform.python_version()}; asyncpg {version('asyncpg')},"
        f" SQLAlchemy {version('sqlalchemy')}, eventsourcing {version('eventsourcing')},"
        f" psycopg {version('psycopg')} ({psycopg_impl})",
    ]
