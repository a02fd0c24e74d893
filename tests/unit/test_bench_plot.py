"""The plot reads the targets back from the page the harnesses write: what a section's table
says is what its bars show."""

from __future__ import annotations

import math

from tests.bench.plot import points_from_markdown
from tests.bench.sections import Section, Target, markdown


def test_targets_written_to_the_page_are_the_points_read_back() -> None:
    section = Section(
        "demo",
        "B9: something measured",
        ["Run: now"],
        [
            Target("writes", 647.0, 2500.0, "ev/s", "0.09x bare FastAPI (7,505 req/s)"),
            Target("p99", 125.0, 250.0, "ms", "2.00x store alone p99 (250 ms)", at_most=True),
            Target("p99 unanswered", math.inf, 50.0, "ms", "answered 10/s", at_most=True),
        ],
    )

    points = points_from_markdown("# Benchmarks\n\n" + markdown(section))

    assert [p.benchmark for p in points] == ["B9"] * 3
    writes, p99, unanswered = points
    assert not writes.met
    assert round(writes.of_wanted, 4) == round(647 / 2500, 4)
    assert writes.peers == (("bare FastAPI", 0.09),)
    assert p99.met
    assert p99.of_wanted == 2.0
    assert p99.peers == (("store alone p99", 0.5),)  # a latency: smaller is better
    assert not unanswered.met
    assert unanswered.of_wanted == 0.0
    assert unanswered.peers == ()
