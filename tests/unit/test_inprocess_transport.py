"""What only the in-process transport has to prove: durability across a restart, in-process
group rebalances, and wake-ups. The shared behaviour is in the transport contract suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest

from shared.transport.base import OutgoingMessage, TopicPartition, TransportError
from shared.transport.inprocess import InProcessLog, InProcessPublisher, InProcessSubscriber
from shared.transport.partitioning import assign_round_robin, partition_for_key

TOPIC = "workforce.registry.events.v1"


class Recorder:
    """Logs every callback into a list that several members may share."""

    def __init__(self, name: str, calls: list[tuple[str, str, list[TopicPartition]]]) -> None:
        self.name = name
        self.calls = calls

    async def on_assigned(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int | None]:
        self.calls.append((self.name, "assigned", list(partitions)))
        return {}

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append((self.name, "revoked", list(partitions)))


@pytest.fixture
async def log() -> AsyncIterator[InProcessLog]:
    log = InProcessLog()
    await log.open()
    await log.create_topic(TOPIC)
    yield log
    await log.close()


def message(key: str, value: str) -> OutgoingMessage:
    return OutgoingMessage(TOPIC, key.encode(), value.encode())


async def test_records_and_offsets_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'transport.db'}"
    partition = TopicPartition(TOPIC, partition_for_key(b"c-1", 6))
    before = InProcessLog(url)
    await before.open()
    await before.create_topic(TOPIC, 6)
    await InProcessPublisher(before).publish([message("c-1", f"v{i}") for i in range(5)])
    await before.close()

    after = InProcessLog(url)
    await after.open()
    assert await after.create_topic(TOPIC, 12) == 6  # the count is fixed at creation
    assert after.end_offset(partition) == 5
    await InProcessPublisher(after).publish([message("c-1", "v5")])
    records = await after.read(partition, 0, 100)
    await after.close()

    assert [(r.offset, r.value) for r in records] == [(i, f"v{i}".encode()) for i in range(6)]


async def test_unknown_topics_are_refused(log: InProcessLog) -> None:
    batch = [message("c-1", "ok"), OutgoingMessage("nope", b"c-1", b"lost")]
    with pytest.raises(TransportError, match="nope"):
        await InProcessPublisher(log).publish(batch)
    assert all(log.end_offset(tp) == 0 for tp in log.partitions(TOPIC))  # all or nothing
    with pytest.raises(TransportError, match="nope"):
        await InProcessSubscriber(log, "g", ["nope"]).start(Recorder("a", []))


async def test_a_waiting_fetch_wakes_on_publish(log: InProcessLog) -> None:
    subscriber = InProcessSubscriber(log, "g", [TOPIC])
    await subscriber.start(Recorder("a", []))
    waiting = asyncio.create_task(subscriber.fetch(max_records=10, timeout_ms=60_000))
    await asyncio.sleep(0)  # one turn: the fetch finds nothing and parks on the log

    await InProcessPublisher(log).publish([message("c-1", "hello")])

    async with asyncio.timeout(5):  # far below the fetch's own 60 s timeout
        batch = await waiting
    assert [m.value for ms in batch.values() for m in ms] == [b"hello"]
    await subscriber.stop()


async def test_rebalance_revokes_everyone_before_assigning_anyone(log: InProcessLog) -> None:
    calls: list[tuple[str, str, list[TopicPartition]]] = []
    first = InProcessSubscriber(log, "g", [TOPIC])
    second = InProcessSubscriber(log, "g", [TOPIC])
    await first.start(Recorder("first", calls))
    await second.start(Recorder("second", calls))

    everything = log.partitions(TOPIC)
    assert calls == [
        ("first", "assigned", everything),
        ("first", "revoked", everything),
        ("first", "assigned", everything[0::2]),
        ("second", "assigned", everything[1::2]),
    ]
    await second.stop()
    assert calls[-3:] == [
        ("first", "revoked", everything[0::2]),
        ("second", "revoked", everything[1::2]),
        ("first", "assigned", everything),
    ]
    await second.stop()  # stopping twice is harmless
    await first.stop()


def test_round_robin_skips_members_not_subscribed_to_a_topic() -> None:
    a, b = [TopicPartition("a", p) for p in range(3)], [TopicPartition("b", p) for p in range(2)]

    plan = assign_round_robin([{"a"}, {"a", "b"}], [*b, *a])

    assert plan == [[a[0], a[2]], [a[1], b[0], b[1]]]
