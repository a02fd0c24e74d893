"""What the service benchmarks share as commands: arguments, the printed and written report,
the exit status (non-zero when an acknowledged write is missing)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.bench.profiling import Profile
from tests.bench.sections import DOCS, Section, Table, print_section, write
from tests.bench.service_load import Result

PROFILE_METHOD = (
    "Profiles (`--profile DIR`): py-spy samples the server from outside at 250 Hz during an"
    " extra closed-loop pass after the measurements (publication: an extra, smaller"
    " publication), counting only the event-loop thread's samples that hold the GIL, i.e."
    " Python at work rather than waiting. library: the package of the innermost frame;"
    " ours: share of samples with that function of ours on the stack; leaf: innermost"
    " frames. Raw samples stay in DIR, for flame graphs."
)


@dataclass
class Report:
    section: Section
    results: list[Result]

    @property
    def all_stored(self) -> bool:
        return all(r.all_stored for r in self.results)


def arguments(
    doc: str | None, extend: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness")
    parser.add_argument("--output", type=Path, help=f"markdown to update (default: {DOCS})")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also profile the service with py-spy; raw samples go to DIR",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WFE_TEST_DATABASE_URL") or os.environ.get("WFE_DATABASE_URL"),
        help="SQLAlchemy postgresql+asyncpg URL (default: $WFE_TEST_DATABASE_URL)",
    )
    parser.add_argument(
        "--kafka",
        default=os.environ.get("WFE_TEST_KAFKA_BOOTSTRAP_SERVERS")
        or os.environ.get("WFE_KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka bootstrap servers (default: $WFE_TEST_KAFKA_BOOTSTRAP_SERVERS)",
    )
    if extend is not None:
        extend(parser)
    args = parser.parse_args()
    if not args.database_url or not args.kafka:
        parser.error('no stack: run `eval "$(.venv/bin/wfe stack env)"` first')
    return args


def finish(report: Report, args: argparse.Namespace, after: Sequence[str]) -> None:
    print_section(report.section)
    output = args.output or (None if args.quick else DOCS)
    if output is not None:
        write(output, report.section, after)
        print(f"wrote {output}")
    if not report.all_stored:
        sys.exit("some acknowledged writes are missing from the database")


def profile_tables(profiles: Sequence[tuple[str, Profile]], top: int = 8) -> list[Table]:
    tables = []
    for name, p in profiles:
        rows = [["library", f, p.share(n)] for f, n in p.libraries.most_common(top)]
        rows += [["ours (in stack)", f, p.share(n)] for f, n in p.own(top)]
        rows += [["leaf", f, p.share(n)] for f, n in p.leaves.most_common(top // 2)]
        title = f"Profile: {name} (py-spy, {p.busy:,} samples of the event loop on CPU)"
        tables.append(Table(title, ["what", "frame", "share of samples"], rows))
    return tables
