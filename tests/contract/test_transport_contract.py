"""One contract suite for every transport: Apache Kafka and the in-process log.

Each test runs once per backend through the `transport` fixture, which hands out started
publishers and subscribers on fresh, uniquely named topics and stops them afterwards.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence

import pytest

from shared.transport.base import (
    IncomingMessage,
    OutgoingMessage,
    Subscriber,
    TopicPartition,
    TransportError,
    TransportUnavailable,
)
from shared.transport.kafka import KafkaPublisher, KafkaSubscriber
from shared.transport.partitioning import partition_for_key
from tests.transports import (
    DEADLINE_S,
    PARTITIONS,
    RecordingListener,
    Transport,
    all_partitions,
    collect,
)


def keyed(topic: str, key: str, count: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(topic, key.encode(), f"{key}:{i}".encode()) for i in range(count)]


async def test_per_key_order_holds_across_many_keys(transport: Transport) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    keys = [f"contributor-{k}" for k in range(50)]
    messages = [
        OutgoingMessage(topic, keys[i % 50].encode(), f"{keys[i % 50]}:{i // 50}".encode())
        for i in range(2000)
    ]
    for start in range(0, len(messages), 250):
        await publisher.publish(messages[start : start + 250])
    subscriber = await transport.subscriber(topic, RecordingListener())

    [received] = await collect([subscriber], 2000)

    sequences: dict[str, list[int]] = defaultdict(list)
    for message in received:
        assert message.value is not None
        key, sequence = message.value.decode().split(":")
        assert message.key == key.encode()
        sequences[key].append(int(sequence))
    assert sequences == {key: list(range(40)) for key in keys}


async def test_a_key_lands_on_kafkas_partition_for_it(transport: Transport) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    keys = [str(uuid.uuid4()) for _ in range(120)]
    await publisher.publish([OutgoingMessage(topic, key.encode(), b"{}") for key in keys])
    subscriber = await transport.subscriber(topic, RecordingListener())

    [received] = await collect([subscriber], len(keys))

    placed = {m.key: m.partition for m in received}
    assert placed == {key.encode(): partition_for_key(key.encode(), PARTITIONS) for key in keys}
    assert len(set(placed.values())) == PARTITIONS  # 120 random keys reach every partition


async def test_headers_key_and_value_round_trip(transport: Transport) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    headers = {"ce_type": b"org.workforce.contributor.registered.v1", "raw": b"\x00\xff\x80"}
    before_ms = time.time_ns() // 1_000_000 - 5_000  # allows for a little clock skew
    await publisher.publish(
        [
            OutgoingMessage(topic, b"c-1", b'{"name": "Ada"}', headers),
            OutgoingMessage(topic, b"c-1", b"second"),
        ]
    )
    subscriber = await transport.subscriber(topic, RecordingListener())

    [received] = await collect([subscriber], 2)

    first, second = received
    assert (first.key, first.value, dict(first.headers)) == (b"c-1", b'{"name": "Ada"}', headers)
    assert (second.value, dict(second.headers)) == (b"second", {})
    assert (first.offset, second.offset) == (0, 1)
    assert before_ms <= first.timestamp_ms <= time.time_ns() // 1_000_000 + 5_000


async def test_subscriber_starts_where_the_listener_says(transport: Transport) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    await publisher.publish(keyed(topic, "c-7", 10) + keyed(topic, "c-8", 4))
    resumed = TopicPartition(topic, partition_for_key(b"c-7", PARTITIONS))
    assert resumed.partition != partition_for_key(b"c-8", PARTITIONS)  # keys chosen so

    from_six = await transport.subscriber(topic, RecordingListener({resumed: 6}))
    [received] = await collect([from_six], 4 + 4)
    assert [m.offset for m in received if m.topic_partition == resumed] == [6, 7, 8, 9]

    from_start = await transport.subscriber(topic, RecordingListener({resumed: None}))
    [received] = await collect([from_start], 10 + 4)
    assert [m.offset for m in received if m.topic_partition == resumed] == list(range(10))


async def test_seek_rewinds_an_assigned_partition(transport: Transport) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    await publisher.publish(keyed(topic, "c-1", 5))
    subscriber = await transport.subscriber(topic, RecordingListener())
    await collect([subscriber], 5)
    partition = TopicPartition(topic, partition_for_key(b"c-1", PARTITIONS))

    await subscriber.seek(partition, 3)

    [again] = await collect([subscriber], 2)
    assert [m.value for m in again] == [b"c-1:3", b"c-1:4"]
    with pytest.raises(TransportError):
        await subscriber.seek(TopicPartition("not-assigned", 0), 0)


async def test_end_offsets_count_what_was_published(transport: Transport) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    messages = [m for k in range(30) for m in keyed(topic, f"c-{k}", k % 4 + 1)]
    await publisher.publish(messages)
    subscriber = await transport.subscriber(topic, RecordingListener())

    ends = await subscriber.end_offsets(sorted(all_partitions(topic)))

    expected = dict.fromkeys(all_partitions(topic), 0)
    for m in messages:
        expected[TopicPartition(topic, partition_for_key(m.key, PARTITIONS))] += 1
    assert ends == expected


async def test_group_members_split_partitions_and_see_each_message_once(
    transport: Transport,
) -> None:
    topic = await transport.create_topic()
    group = f"group-{uuid.uuid4().hex}"
    offset_store: dict[TopicPartition, int | None] = {}
    first_listener = RecordingListener(offset_store)
    second_listener = RecordingListener(offset_store)
    first = await transport.subscriber(topic, first_listener, group)
    assert first.assignment() == all_partitions(topic)
    second = await transport.subscriber(topic, second_listener, group)

    await wait_for_split([first, second], all_partitions(topic))
    publisher = await transport.publisher()
    messages = [m for k in range(100) for m in keyed(topic, f"c-{k}", 3)]
    await publisher.publish(messages)
    received = await collect([first, second], len(messages))

    for member, got in zip([first, second], received, strict=True):
        assert {m.topic_partition for m in got} <= member.assignment()
        offset_store.update({m.topic_partition: m.offset + 1 for m in got})
    seen = [(m.partition, m.offset) for got in received for m in got]
    assert len(seen) == len(set(seen)) == len(messages)
    assert first_listener.calls[:2] == [
        ("assigned", all_partitions(topic)),
        ("revoked", all_partitions(topic)),
    ]

    # The survivor takes every partition back, starting after what the group has stored.
    owned = second.assignment()
    await transport.stop(second)
    assert second_listener.calls[-1] == ("revoked", owned)
    await wait_for_split([first], all_partitions(topic))
    await publisher.publish(keyed(topic, "c-late", 2))
    [late] = await collect([first], 2)
    assert [m.value for m in late] == [b"c-late:0", b"c-late:1"]


async def test_no_message_is_handed_out_before_the_listeners_offsets_apply(
    transport: Transport,
) -> None:
    topic = await transport.create_topic()
    publisher = await transport.publisher()
    await publisher.publish([m for k in range(60) for m in keyed(topic, f"c-{k}", 2)])
    probe = await transport.subscriber(topic, RecordingListener())
    # Everything counts as processed already: no member may see a single message.
    offset_store = dict(await probe.end_offsets(sorted(all_partitions(topic))))
    await transport.stop(probe)

    class SlowStore(RecordingListener):
        async def on_assigned(
            self, partitions: Sequence[TopicPartition]
        ) -> Mapping[TopicPartition, int | None]:
            await asyncio.sleep(0.5)  # an offset store that takes its time to answer
            return await super().on_assigned(partitions)

    group = f"group-{uuid.uuid4().hex}"
    first = await transport.subscriber(topic, SlowStore(offset_store), group)
    handed_out: list[IncomingMessage] = []
    joined = asyncio.Event()

    async def consume_until_joined() -> None:
        while not joined.is_set():
            batch = await first.fetch(max_records=500, timeout_ms=50)
            handed_out.extend(m for messages in batch.values() for m in messages)

    consuming = asyncio.create_task(consume_until_joined())
    second = await transport.subscriber(topic, SlowStore(offset_store), group)
    await wait_for_split([first, second], all_partitions(topic))
    joined.set()
    await consuming

    assert handed_out == []


async def wait_for_split(members: Sequence[Subscriber], wanted: frozenset[TopicPartition]) -> None:
    """Polls until the members own disjoint, non-empty shares that together cover `wanted`,
    fetching as a consumer would (nothing is due: each member starts from the stored offsets)."""
    deadline = time.monotonic() + DEADLINE_S
    shares = [m.assignment() for m in members]
    while time.monotonic() < deadline:
        shares = [m.assignment() for m in members]
        disjoint = sum(map(len, shares)) == len(wanted)
        if all(shares) and disjoint and frozenset[TopicPartition]().union(*shares) == wanted:
            return
        fetched = await asyncio.gather(*(m.fetch(max_records=1, timeout_ms=100) for m in members))
        assert not any(fetched), "a member was handed messages already processed"
    pytest.fail(f"no split of {len(wanted)} partitions within {DEADLINE_S} s: {shares}")


async def test_listener_failure_surfaces_as_transport_error(transport: Transport) -> None:
    topic = await transport.create_topic()

    class Failing(RecordingListener):
        async def on_assigned(
            self, partitions: Sequence[TopicPartition]
        ) -> Mapping[TopicPartition, int | None]:
            raise RuntimeError("offset store down")

    with pytest.raises(TransportError) as raised:
        await transport.subscriber(topic, Failing())
    assert isinstance(raised.value.__cause__, RuntimeError)


async def test_kafka_publisher_reports_an_unreachable_broker() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    publisher = KafkaPublisher(address)
    with pytest.raises(TransportUnavailable):
        await publisher.start()
    subscriber = KafkaSubscriber(address, "group", ["topic"])
    with pytest.raises(TransportUnavailable):
        await subscriber.start(RecordingListener())
