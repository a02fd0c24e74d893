"""The consumer dies mid-batch (effects written, not committed), right after its commit,
and by SIGKILL from outside, again and again. Checked: the final projection equals a fresh
fold of the log and every event took effect exactly once (I2, I5)."""

from __future__ import annotations

import random

from tests.databases import FreshDatabase
from tests.faults.harness import (
    Worker,
    append_load,
    create_projection_tables,
    effects_per_event,
    eventually,
    fold_log,
    outbox_size,
    projection,
    worker_args,
)
from tests.faults.workers import killed_from_outside

TOTAL = 5_000


async def test_consumer_killed_around_its_commit_applies_each_event_once(
    database: FreshDatabase, kafka_bootstrap: str, topic: str
) -> None:
    common = worker_args(database, kafka_bootstrap, topic)
    await append_load(database.engine, TOTAL)
    await create_projection_tables(database.engine)
    relay = Worker(["relay", *common])
    consumer = Worker(["consumer", *common, "--group", f"g-{topic}", "--crash-within", "25"])
    relay.start()
    consumer.start()
    rng = random.Random(9)
    kill_after, started_at = rng.randint(100, 600), 0
    try:

        async def done() -> bool:
            nonlocal kill_after, started_at
            applied = await _applied(database)
            if not consumer.running():
                consumer.start()
                started_at = applied
            elif killed_from_outside(consumer.lives - 1) and applied - started_at >= kill_after:
                # Once it has applied a few hundred events: a kill on a timer would, on a
                # slow machine, often hit a life still starting.
                consumer.kill()
                consumer.start()
                kill_after, started_at = rng.randint(100, 600), applied
            return await outbox_size(database.engine) == 0 and applied >= TOTAL

        await eventually(done, 240, "the crashing consumer to catch up")
    finally:
        consumer.stop()
        relay.stop()
    crashes = consumer.log.read_text()
    before, after = crashes.count("CRASH before-commit"), crashes.count("CRASH after-commit")
    assert before >= 2, f"only {before} crashes before a commit: too few to prove anything"
    assert after >= 2, f"only {after} crashes after a commit: too few to prove anything"
    assert consumer.kills >= 1
    assert set((await effects_per_event(database.engine)).values()) == {1}
    assert await projection(database.engine) == await fold_log(database.engine)
    print(f"consumer crashes: {before} before commit, {after} after, {consumer.kills} SIGKILLs")


async def _applied(database: FreshDatabase) -> int:
    return sum((await effects_per_event(database.engine)).values())
