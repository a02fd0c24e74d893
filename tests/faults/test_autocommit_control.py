"""Negative control for the consumer checks: a consumer that lets Kafka auto-commit its
offsets (apart from its effects) is SIGKILLed at random points. The checker that passes the
real consumer (`test_consumer_crashes.py`, `test_broker_kill.py`) must catch this one losing
events or applying them twice; if it did not, those passes would prove nothing."""

from __future__ import annotations

import random
from functools import partial

from tests.databases import FreshDatabase
from tests.faults.harness import (
    Worker,
    append_load,
    create_projection_tables,
    effects_per_event,
    eventually,
    fold_log,
    group_lag,
    outbox_size,
    projection,
    worker_args,
)
from tests.faults.profile import PROFILE

MAX_KILLS = 30


async def test_the_checker_catches_an_auto_committing_consumer(
    database: FreshDatabase, kafka_bootstrap: str, topic: str
) -> None:
    total = PROFILE.autocommit_events
    common = worker_args(database, kafka_bootstrap, topic)
    await append_load(database.engine, total)
    await create_projection_tables(database.engine)
    relay = Worker(["relay", *common])
    consumer = Worker(["autocommit-consumer", *common, "--group", f"g-{topic}"])
    relay.start()
    consumer.start()
    rng = random.Random(5)
    try:
        await eventually(lambda: _drained(database), 60, "the relay to publish every event")
        while consumer.kills < MAX_KILLS and (applied := await _applied(database)) < total:
            # Killed while it works: a random number of effects after its restart.
            target = min(total, applied + rng.randint(5, 200))
            await eventually(partial(_applied_at_least, database, target), 60, "progress")
            consumer.kill()
            consumer.start()
            if consumer.kills >= 3 and await _doubled(database):
                break  # violations seen; losses only show once the consumer has settled
        # Let it finish: Kafka's committed offsets reach the end of the topic.
        group = f"g-{topic}"

        async def caught_up() -> bool:
            return await group_lag(kafka_bootstrap, group, topic) == 0

        await eventually(caught_up, 120, "the consumer to commit the whole topic")
    finally:
        consumer.stop()
        relay.stop()

    effects = await effects_per_event(database.engine)
    folded = await fold_log(database.engine)
    lost = sum(count for count, _, _ in folded.values()) - len(effects)
    doubled = sum(n - 1 for n in effects.values())
    assert consumer.kills >= 2, "too few kills to test anything"
    assert lost + doubled > 0, "the checker missed the auto-commit consumer's violations"
    projected = await projection(database.engine)
    wrong_rows = sum(projected.get(stream) != row for stream, row in folded.items())
    print(
        f"auto-commit consumer, {consumer.kills} SIGKILLs over {total} events: "
        f"checker found {lost} lost, {doubled} applied twice, {wrong_rows} projection rows wrong"
    )


async def _applied(database: FreshDatabase) -> int:
    return sum((await effects_per_event(database.engine)).values())


async def _applied_at_least(database: FreshDatabase, count: int) -> bool:
    return await _applied(database) >= count


async def _doubled(database: FreshDatabase) -> bool:
    return any(n > 1 for n in (await effects_per_event(database.engine)).values())


async def _drained(database: FreshDatabase) -> bool:
    return await outbox_size(database.engine) == 0
