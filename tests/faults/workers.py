"""Processes the fault tests start and SIGKILL: a relay and a projecting consumer, and the
negative control, a consumer whose offsets Kafka auto-commits apart from its effects.

Run as `python -m tests.faults.workers relay|consumer|autocommit-consumer ...`. The
consumer can also kill itself (`--crash-within N`) in the middle of a batch, before its
commit, or right after it, which a signal from outside would hit only by luck.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.catalogue import Catalogue, EventPayload
from shared.consumer import CheckpointedConsumer, Delivery
from shared.db import create_engine
from shared.envelope import CloudEvent, from_binary
from shared.outbox.relay import OutboxRelay, RelayConfig
from shared.transport.base import IncomingMessage, TopicPartition
from shared.transport.kafka import KafkaPublisher, KafkaSubscriber

catalogue = Catalogue()


@catalogue.register
class Happened(EventPayload):
    TYPE = "org.workforce.test.happened.v1"
    n: int


# The projection: one row per stream, plus a log of every effect to count duplicates.
PROJECTION_DDL = (
    "CREATE TABLE IF NOT EXISTS projection (stream_id text PRIMARY KEY, events int NOT NULL,"
    " last_version int NOT NULL, total bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS effects (event_id text NOT NULL, stream_id text NOT NULL,"
    " version int NOT NULL)",
)


async def project(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
    for d in deliveries:
        await apply(conn, d.event)


async def apply(conn: AsyncConnection, event: CloudEvent) -> None:
    """One event's effects: its projection row, and a line in the effects log."""
    params = {"s": event.subject, "v": event.sequence, "n": event.data["n"]}
    await conn.execute(
        sa.text(
            "INSERT INTO projection VALUES (:s, 1, :v, :n) ON CONFLICT (stream_id) DO UPDATE"
            " SET events = projection.events + 1, last_version = :v,"
            " total = projection.total + :n"
        ),
        params,
    )
    await conn.execute(
        sa.text("INSERT INTO effects VALUES (:e, :s, :v)"), {**params, "e": event.id}
    )


def crash(when: str) -> None:
    print(f"CRASH {when}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


BEFORE_COMMIT, AFTER_COMMIT = "before-commit", "after-commit"
ENDINGS = (BEFORE_COMMIT, AFTER_COMMIT, None)
"""How the lives of a crashing consumer end, in turn: by its own hand before a commit or
right after one, or by the harness's SIGKILL (None). A run of a few lives has all three
for sure, where a crash rate per batch once left a CI run one crash short."""


def killed_from_outside(life: int) -> bool:
    return ENDINGS[life % len(ENDINGS)] is None


@dataclass
class Doom:
    """How a consumer's life ends by its own hand: at its `at`-th batch of fresh events,
    before that batch's commit (effects written) or right after it."""

    when: str
    at: int
    batches: int = 0

    @classmethod
    def for_life(cls, life: int, within: int) -> Doom | None:
        when = ENDINGS[life % len(ENDINGS)]
        # Seeded by the life: a failing run's crashes can be had again.
        return cls(when, random.Random(life).randint(1, within)) if when else None

    def counted(self) -> None:
        self.batches += 1
        if self.when == BEFORE_COMMIT and self.batches == self.at:
            crash(BEFORE_COMMIT)

    def committed(self) -> None:
        if self.when == AFTER_COMMIT and self.batches >= self.at:
            crash(AFTER_COMMIT)


class CrashingConsumer(CheckpointedConsumer):
    def __init__(self, *args: object, doom: Doom | None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._doom = doom

    async def process(self, batch: Mapping[TopicPartition, Sequence[IncomingMessage]]) -> None:
        await super().process(batch)
        if self._doom:
            self._doom.committed()


async def run_autocommit_consumer(args: argparse.Namespace) -> None:
    """The negative control: Kafka commits the offsets on its own timer, apart from the
    effects, so a kill between the two loses events or applies them twice."""
    engine = create_engine(args.database_url, schema=args.schema, pool_size=2)
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=True,
        auto_commit_interval_ms=300,
        auto_offset_reset="earliest",
        session_timeout_ms=1500,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    while True:
        batches = await consumer.getmany(timeout_ms=500, max_records=25)
        for records in batches.values():
            for record in records:
                async with engine.begin() as conn:
                    await apply(conn, from_binary(dict(record.headers), record.value))


async def run_relay(args: argparse.Namespace) -> None:
    engine = create_engine(args.database_url, schema=args.schema, pool_size=2)
    publisher = KafkaPublisher(args.bootstrap)
    config = RelayConfig(service=args.schema, topic=args.topic, source="/faults", batch_size=200)
    await OutboxRelay(engine, publisher, config).run(asyncio.Event())


async def run_consumer(args: argparse.Namespace) -> None:
    engine = create_engine(args.database_url, schema=args.schema, pool_size=2)
    deadletters = KafkaPublisher(args.bootstrap)
    # Short sessions: a killed member's partitions move on after 1.5 s, not 10 s.
    subscriber = KafkaSubscriber(args.bootstrap, args.group, [args.topic], session_timeout_ms=1500)
    # The harness numbers the lives of a worker it starts again and again.
    life = int(os.environ.get("WFE_WORKER_LIFE", "0"))
    doom = Doom.for_life(life, args.crash_within) if args.crash_within else None

    async def handler(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        await project(conn, deliveries)
        if deliveries and doom:
            doom.counted()

    consumer = CrashingConsumer(
        args.group,
        engine,
        subscriber,
        handler,
        catalogue,
        deadletters,
        args.deadletter_topic,
        max_batch=25,
        doom=doom,
    )
    await consumer.run(asyncio.Event())


ROLES = {
    "relay": run_relay,
    "consumer": run_consumer,
    "autocommit-consumer": run_autocommit_consumer,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=list(ROLES))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="faults")
    parser.add_argument("--deadletter-topic", default="workforce.deadletter.v1")
    parser.add_argument("--crash-within", type=int, default=0, help="batches; 0: never")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(ROLES[args.role](args))


if __name__ == "__main__":
    main()
