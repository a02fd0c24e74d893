"""The service benchmarks still run end to end: every measurement gets answers, every
acknowledged write is stored, and a policy publication emits (and stores) decisions.

Quick mode: a few dozen requests per measurement against the test stack. Speed is never
asserted: the figures belong in docs/benchmarks.md, not in a pass/fail verdict.
"""

from __future__ import annotations

from tests.bench import policy, registry_http
from tests.bench.policy_access import BARE as CHECK_BARE
from tests.bench.policy_access import ENGINE, POLICY
from tests.bench.registry_measure import BARE, CE, RAW, REST, STORE


async def test_registry_over_http_answers_and_stores_every_acknowledged_write(
    postgres_admin_url: str, kafka_bootstrap: str
) -> None:
    report = await registry_http.run(postgres_admin_url, kafka_bootstrap, registry_http.QUICK)

    assert {r.subject for r in report.results} == {REST, CE, BARE, STORE, RAW}
    assert {r.offered is None for r in report.results} == {True, False}
    for result in report.results:
        assert result.measurement.events > 0, result
        assert result.failed == 0, result
        assert result.all_stored, result
    assert report.section.targets


async def test_policy_publication_emits_and_stores_decisions_and_checks_are_answered(
    postgres_admin_url: str, kafka_bootstrap: str
) -> None:
    report = await policy.run(postgres_admin_url, kafka_bootstrap, policy.QUICK)

    published = [r for r in report.results if r.subject == "policy publication"]
    assert len(published) == 1
    assert published[0].measurement.events > 0
    assert published[0].stored == published[0].measurement.events
    checks = [r for r in report.results if r.subject != "policy publication"]
    assert {r.subject for r in checks} == {POLICY, CHECK_BARE, ENGINE}
    for result in checks:
        assert result.measurement.events > 0, result
        assert result.failed == 0, result
