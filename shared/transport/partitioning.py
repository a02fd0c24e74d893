"""Where records go: key -> partition (Kafka's default partitioner) and partition -> group
member (round robin). The in-process transport uses these, so a contributor's events sit on
the same partition number whichever transport carried them.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

from aiokafka.partitioner import murmur2

from shared.transport.base import TopicPartition


def partition_for_key(key: bytes, partitions: int) -> int:
    """murmur2 of the key bytes, made positive, modulo the partition count (as Java does)."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    digest: int = murmur2(key)
    return (digest & 0x7FFFFFFF) % partitions


def assign_round_robin(
    subscriptions: Sequence[Set[str]], partitions: Sequence[TopicPartition]
) -> list[list[TopicPartition]]:
    """Splits partitions over group members in join order, as aiokafka's default assignor
    does: each partition, in sorted order, goes to the next member subscribed to its topic."""
    plan: list[list[TopicPartition]] = [[] for _ in subscriptions]
    turn = 0
    for tp in sorted(partitions):
        if not any(tp.topic in topics for topics in subscriptions):
            continue
        while tp.topic not in subscriptions[turn % len(subscriptions)]:
            turn += 1
        plan[turn % len(subscriptions)].append(tp)
        turn += 1
    return plan
