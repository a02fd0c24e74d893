"""The reporting benchmark still runs end to end: the rebuild applies every generated event
and its peer reads them all, every freshness run sees each accepted contributor in the
reports and in a policy decision, and every service catches up before its memory is read.

Quick mode: a few hundred events against the test stack. Speed is never asserted: the
figures belong in docs/benchmarks.md, not in a pass/fail verdict.
"""

from __future__ import annotations

import math
import os

from tests.bench import reporting
from tests.bench.processes import TOPIC_PARTITIONS
from tests.bench.reporting_freshness import BATCHED, REST


async def test_reporting_benchmark_measures_everything_and_sees_every_event(
    postgres_admin_url: str, kafka_bootstrap: str
) -> None:
    outcome = await reporting.run(postgres_admin_url, kafka_bootstrap, reporting.QUICK)

    # The default rebuild reads with one process per CPU; the others with one.
    assert outcome.rebuilt.processes == min(len(os.sched_getaffinity(0)), TOPIC_PARTITIONS)
    assert (outcome.alone.processes, outcome.before.processes) == (1, 1)
    for rebuilt in (outcome.rebuilt, outcome.alone, outcome.before):
        assert rebuilt.written.registry > 0, rebuilt.written
        assert rebuilt.written.policy > 0, rebuilt.written
        assert rebuilt.events == rebuilt.written.events, rebuilt
        assert rebuilt.raw.messages == rebuilt.written.events, rebuilt.raw
        assert rebuilt.contributors == rebuilt.written.contributors, rebuilt
        assert rebuilt.seconds > 0, rebuilt
        assert rebuilt.raw.seconds > 0, rebuilt.raw
    assert {f.subject for f in outcome.freshness} == {REST, BATCHED}
    for f in outcome.freshness:
        assert f.unanswered == 0, f
        assert f.accepted == f.contributors, f
        assert f.seen_reporting == f.accepted, f
        assert f.seen_policy == f.accepted, f
        for m in (f.reporting, f.policy, f.reporting_after_answer, f.policy_after_answer):
            assert len(m.latencies) == f.accepted, f
            assert not any(map(math.isinf, m.latencies)), f
    assert [r.service for r in outcome.memory] == ["registry", "policy", "reporting"]
    assert outcome.fed.events > 0
    for rss in outcome.memory:
        assert rss.caught_up, rss
        assert rss.rss_mb > 0, rss
        assert rss.peak_mb >= rss.rss_mb, rss
    assert outcome.all_stored
    assert len(outcome.section.targets) == 3  # rebuild; freshness, REST and batched
