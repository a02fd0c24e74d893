"""How many processes CPU-bound work may start: the affinity, capped by a container's quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.processes import cpus

AFFINITY = len(os.sched_getaffinity(0))


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, AFFINITY),
        ({"cpu.max": "max 100000\n"}, AFFINITY),
        ({"cpu.max": "100000 100000\n"}, 1),
        ({"cpu.max": "50000 100000\n"}, 1),  # half a CPU still runs one process
        ({"cpu.max": "150000 100000\n"}, min(2, AFFINITY)),
        ({"cpu.max": f"{(AFFINITY + 8) * 100000} 100000\n"}, AFFINITY),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, AFFINITY),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        ({"cpu.max": "not a quota\n"}, AFFINITY),
    ],
)
def test_the_quota_caps_the_affinity(tmp_path: Path, files: dict[str, str], expected: int) -> None:
    assert cpus(cgroup(tmp_path, files)) == expected
