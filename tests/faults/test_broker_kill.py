"""The Kafka broker is SIGKILLed (no controlled shutdown, its log recovered on restart),
kept down for a while (`PROFILE.broker_outage`: 60 s in the long profile) and started again,
while appends, a relay and a checkpointed consumer keep running in their own processes.

Checked as in `test_broker_outage.py` (I1, I6: appends go on, the backlog only grows, every
event reaches the topic), and downstream (I2, I5): the consumer's projection equals a fresh
fold of the log and every event took effect once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

from shared.stack import StackSettings, kafka
from shared.stack.process import is_alive
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
    read_topic,
    worker_args,
)
from tests.faults.profile import PROFILE


async def test_broker_sigkill_under_load_loses_nothing(
    database: FreshDatabase, kafka_bootstrap: str, topic: str
) -> None:
    settings = StackSettings()
    common = worker_args(database, kafka_bootstrap, topic)
    await create_projection_tables(database.engine)
    relay = Worker(["relay", *common])
    consumer = Worker(["consumer", *common, "--group", f"g-{topic}"])
    relay.start()
    consumer.start()
    appended = 0
    per_second = PROFILE.broker_events_per_second
    try:
        await append_load(database.engine, 500)
        appended += 500
        await eventually(lambda: _applied(database, appended), 60, "the first events to apply")

        pid = kafka.status(settings).pid
        assert pid is not None, "the broker is not running"
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: _dead(pid), 10, "the broker to die")
        down_since = time.monotonic()
        backlog_seen = []
        while time.monotonic() - down_since < PROFILE.broker_outage:
            await append_load(database.engine, per_second // 2)
            appended += per_second // 2
            backlog_seen.append(await outbox_size(database.engine))
            await asyncio.sleep(0.5)
        assert backlog_seen == sorted(backlog_seen), "the backlog shrank with no broker"
        assert backlog_seen[-1] >= appended - 500 - per_second, "appends were lost"

        await kafka.start(settings)
        restarted = time.monotonic()
        await eventually(lambda: _drained(database), 180, "the backlog to be published")
        published = time.monotonic() - restarted
        await append_load(database.engine, 500)  # and the pipeline still flows afterwards
        appended += 500
        await eventually(lambda: _applied(database, appended), 180, "the consumer to catch up")
        applied = time.monotonic() - restarted
    finally:
        consumer.stop()
        relay.stop()
        await kafka.start(settings)  # whatever happened, leave the broker running

    on_topic = await read_topic(kafka_bootstrap, topic)
    copies = Counter(event.id for _, event in on_topic)
    assert len(copies) == appended, f"{appended - len(copies)} events never reached the topic"
    assert set((await effects_per_event(database.engine)).values()) == {1}
    assert await projection(database.engine) == await fold_log(database.engine)
    twice = sum(n > 1 for n in copies.values())
    print(
        f"broker SIGKILLed, down {PROFILE.broker_outage:.0f}s: events {appended}, backlog at "
        f"restart {backlog_seen[-1]}, lost 0, on the topic twice {twice}"
        f", applied twice 0; backlog published {published:.1f}s and consumer caught up "
        f"{applied:.1f}s after the restart"
    )


async def _applied(database: FreshDatabase, at_least: int) -> bool:
    return sum((await effects_per_event(database.engine)).values()) >= at_least


async def _drained(database: FreshDatabase) -> bool:
    return await outbox_size(database.engine) == 0


async def _dead(pid: int) -> bool:
    return not is_alive(pid)  # reaps it too when this process started the broker
