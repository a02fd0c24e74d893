"""The store-append benchmark still runs end to end, and loses nothing.

Quick mode, a few hundred events per measurement against the test database. Speed is never
asserted: the figures belong in docs/benchmarks.md, not in a pass/fail verdict.
"""

from __future__ import annotations

from tests.bench.store_appends import QUICK, run


async def test_every_measurement_appends_and_stores_all_it_appended(
    postgres_admin_url: str,
) -> None:
    report = await run(postgres_admin_url, QUICK)

    implementations = {r.implementation for r in report.results}
    assert implementations == {"ours", "raw+outbox", "raw bare", "eventsourcing"}
    for result in report.results:
        assert result.measurement.events > 0, result
        assert result.all_stored, result
