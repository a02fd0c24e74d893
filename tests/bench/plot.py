"""docs/benchmarks.png: every target of docs/benchmarks.md, ours against what was wanted and
against the peers measured in the same run, read from the sections' target tables — so the
plot always shows what the page says, also after one harness was re-run alone.

    .venv/bin/python -m tests.bench.plot [docs/benchmarks.md]

Both panels say "better" the same way, to the right of 1: a throughput divided by what it is
compared with, a latency the other way round (what it is compared with divided by ours).
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from tests.bench.sections import Target, figure

PEER_RATIO = re.compile(r"(?P<ratio>\d+(?:\.\d+)?)x (?P<peer>[^;(]+?)\s*(?:\(|;|$)")
"""`ratio()` of sections.py followed by the peer's name, as service targets state peers."""


@dataclass(frozen=True)
class Point:
    benchmark: str
    claim: str
    of_wanted: float
    """Past the target when above 1."""
    met: bool
    label: str
    peers: tuple[tuple[str, float], ...]
    """(peer, how many times better ours is: above 1 ours is better)."""


def path_for(markdown: Path) -> Path:
    return markdown.with_suffix(".png")


def points_from_markdown(text: str) -> list[Point]:
    """The points of every section's "Targets" table, in page order."""
    points: list[Point] = []
    benchmark = ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            benchmark = line[3:].split(":", 1)[0]
        if not line.startswith("### Targets"):
            continue
        rows = []
        for row in lines[i + 2 :]:  # a blank line, then the table
            if not row.startswith("|"):
                break
            rows.append(_cells(row))
        header, body = rows[0], rows[2:]
        for cells in body:
            if header == STORE_HEADER:
                points.append(_store_point(benchmark, cells))
            else:
                points.append(_point(benchmark, _target(cells)))
    return points


STORE_HEADER = ["target", "ours ev/s", "peer ev/s", "ratio", "wanted", "verdict"]
"""The store benchmark's targets are ratios to a peer already."""


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _number(text: str) -> tuple[float, str]:
    """'1,632 decisions/s' → (1632.0, 'decisions/s'); '∞ ms' → (inf, 'ms'); '≥ 3x' → (3, 'x')."""
    figure_, _, unit = text.lstrip("≥≤ ").partition(" ")
    if figure_.endswith("x") and not unit:
        figure_, unit = figure_[:-1], "x"
    return (math.inf if figure_ == "∞" else float(figure_.replace(",", ""))), unit


def _store_point(benchmark: str, cells: list[str]) -> Point:
    claim, _, _, ratio_text, wanted_text, verdict = cells[:6]
    ratio, _ = _number(ratio_text)
    at_least, _ = _number(wanted_text)
    peer = claim.rsplit(" vs ", 1)[-1]
    label = f"{ratio:.2f}x (wanted ≥ {at_least:g}x)"
    return Point(benchmark, claim, ratio / at_least, verdict == "met", label, ((peer, ratio),))


def _target(cells: list[str]) -> Target:
    claim, measured_text, wanted_text, _, _, peers = cells[:6]
    measured, unit = _number(measured_text)
    wanted, _ = _number(wanted_text)
    return Target(claim, measured, wanted, unit, peers, at_most=wanted_text.startswith("≤"))


def _point(benchmark: str, t: Target) -> Point:
    if t.at_most:
        of_wanted = t.wanted / t.measured if t.measured else math.inf
    else:
        of_wanted = t.measured / t.wanted if t.wanted else math.inf
    sign = "≤" if t.at_most else "≥"
    label = f"{figure(t.measured)} {t.unit} (wanted {sign} {figure(t.wanted)})"
    peers = []
    for found in PEER_RATIO.finditer(t.peers):
        ratio = float(found["ratio"])
        if ratio > 0:
            peers.append((found["peer"].strip(), 1 / ratio if t.at_most else ratio))
    return Point(benchmark, t.claim, of_wanted, t.met, label, tuple(peers))


def draw(points: list[Point], path: Path) -> None:
    rows = len(points)
    # The object API without pyplot: no display and no global state, just the file.
    fig = Figure(figsize=(15, max(3.0, 1.2 + 0.62 * rows)))
    wanted, peers = fig.subplots(1, 2, sharey=True)
    ys = list(range(rows))[::-1]
    names = [textwrap.fill(f"{p.benchmark}: {p.claim}", 58) for p in points]
    shown = [_finite(p.of_wanted) for p in points]
    colours = ["#2e7d32" if p.met else "#c62828" for p in points]
    # Bars grow from 1 (as good as wanted) towards better or worse.
    wanted.barh(ys, [x - 1 for x in shown], left=1, color=colours, height=0.6)
    wanted.axvline(1, color="black", linewidth=1)
    wanted.set_xscale("log")
    wanted.set_yticks(ys, names, fontsize=8)
    wanted.set_title("ours ÷ target (green: met, red: missed)", fontsize=10)
    for y, x, p in zip(ys, shown, points, strict=True):
        wanted.annotate(
            p.label,
            (max(x, 1), y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    height = 0.7
    for y, p in zip(ys, points, strict=True):
        for i, (peer, ratio) in enumerate(p.peers):
            step = height / max(len(p.peers), 1)
            at = y + height / 2 - step * (i + 0.5)
            value = _finite(ratio)
            colour = "#1565c0" if ratio >= 1 else "#ef6c00"
            peers.barh(at, value - 1, left=1, height=step * 0.9, color=colour)
            peers.annotate(
                f"{ratio:.2f}x {peer}",
                (max(value, 1), at),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
    peers.axvline(1, color="black", linewidth=1)
    peers.set_xscale("log")
    peers.set_title("ours vs peers in the same run (right of 1: ours better)", fontsize=10)
    values = shown + [_finite(r) for p in points for _, r in p.peers]
    reach = max(max(v, 1 / v) for v in values) * 1.5
    for axis in (wanted, peers):
        axis.grid(axis="x", which="both", alpha=0.3)
        axis.set_xlim(1 / reach, reach * 30)  # symmetric about 1, with room for the labels
    fig.suptitle("Benchmarks (docs/benchmarks.md): measured on one shared 2-core machine")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _finite(value: float) -> float:
    """∞ (e.g. nothing answered in time) drawn as a long bar rather than none."""
    return 1e4 if math.isinf(value) else max(value, 1e-4)


def main() -> None:
    import sys

    markdown = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/benchmarks.md")
    image = path_for(markdown)
    draw(points_from_markdown(markdown.read_text()), image)
    print(f"wrote {image}")


if __name__ == "__main__":
    main()
