"""Exactly one relay per service is active; a standby takes over when it dies."""

from __future__ import annotations

from tests.databases import FreshDatabase
from tests.faults.harness import (
    Worker,
    append_load,
    eventually,
    outbox_size,
    read_topic,
    worker_args,
)

ACTIVE = "is the active relay"


async def test_standby_relay_takes_over_when_the_active_one_is_killed(
    database: FreshDatabase, kafka_bootstrap: str, topic: str
) -> None:
    args = ["relay", *worker_args(database, kafka_bootstrap, topic)]
    first, second = Worker(args), Worker(args)
    try:
        first.start()
        await eventually(lambda: _logged(first, ACTIVE), 30, "the first relay to lead")
        second.start()
        await append_load(database.engine, 500)
        await eventually(lambda: _drained(database), 30, "the active relay to publish")
        assert ACTIVE not in second.log.read_text(), "two relays were active at once"

        first.kill()
        await eventually(lambda: _logged(second, ACTIVE), 30, "the standby to take over")
        await append_load(database.engine, 500)
        await eventually(lambda: _drained(database), 30, "the new active relay to publish")
    finally:
        first.stop()
        second.stop()
    assert len({event.id for _, event in await read_topic(kafka_bootstrap, topic)}) == 1_000


async def _logged(worker: Worker, text: str) -> bool:
    return worker.log.exists() and text in worker.log.read_text()


async def _drained(database: FreshDatabase) -> bool:
    return await outbox_size(database.engine) == 0
