"""`wfe bench` still runs a harness through the suite and writes its section and the plot.

One harness (the quickest) in quick mode: the others' quick runs are the other smoke tests;
what this adds is the command, the suite runner and the plot drawn from the page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"


def test_bench_quick_writes_the_section_and_the_plot(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    output = tmp_path / "benchmarks.md"
    env = {
        **os.environ,
        "WFE_TEST_DATABASE_URL": postgres_admin_url,
        "WFE_TEST_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.cli.main",
            "bench",
            "--quick",
            "--only",
            "store_appends",
            "--output",
            str(output),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = output.read_text()
    assert "<!-- bench:store:start -->" in text
    assert "<!-- bench:store:end -->" in text
    assert "--quick" in text
    assert output.with_suffix(".png").read_bytes().startswith(PNG)
