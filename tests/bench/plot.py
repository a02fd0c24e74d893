"""docs/benchmarks.png: every target of the suite, ours against what was wanted and against
the peers measured in the same run, taken from the harnesses' report objects.

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

from tests.bench.report import StoreReport
from tests.bench.sections import Section, Target, figure

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


def store_points(report: StoreReport) -> list[Point]:
    """The store benchmark's targets are ratios to a peer already."""
    points = []
    for t in report.targets:
        peer = f"{t.comparison.peer.implementation} {t.comparison.peer.workload}"
        points.append(
            Point(
                "B1/B2 store",
                t.claim,
                t.comparison.ratio / t.at_least,
                t.met,
                f"{t.comparison.ratio:.2f}x (wanted ≥ {t.at_least:g}x)",
                ((peer, t.comparison.ratio),),
            )
        )
    return points


def section_points(section: Section) -> list[Point]:
    name = section.title.split(":", 1)[0]
    return [_point(name, t) for t in section.targets]


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
