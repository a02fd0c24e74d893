"""`wfe tail`: follow the topics in the terminal, one line per event.

Against the real stack it reads Kafka as a consumer group of its own (`wfe-tail-<random>`)
that never commits, like `kafka-console-consumer`. In the embedded mode it reads the
in-process transport's log (`<data_dir>/transport.db`), which holds the same records, keys,
partitions and offsets, from a second process: it polls, as it cannot be woken. Either way
it shows what consumers receive — CloudEvents in Kafka's binary mode — not a store's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from shared.cli.output import fail, quiet_kafka_client
from shared.cli.serve import settings
from shared.envelope import CloudEvent, UndecodableMessage, from_binary
from shared.settings import ServiceSettings
from shared.transport.base import IncomingMessage, TopicPartition, TransportError
from shared.transport.inprocess import InProcessLog
from shared.transport.kafka import KafkaSubscriber

POLL_SECONDS = 0.25
console = Console(highlight=False, soft_wrap=True)


class Topic(StrEnum):
    registry = "registry"
    policy = "policy"
    deadletter = "deadletter"


def _names(configured: ServiceSettings, chosen: Sequence[Topic]) -> dict[str, str]:
    """Topic name -> the short label printed."""
    every = {
        Topic.registry: configured.topics.registry,
        Topic.policy: configured.topics.policy,
        Topic.deadletter: configured.topics.deadletter,
    }
    return {every[t]: t.value for t in chosen or (Topic.registry, Topic.policy)}


def tail(
    topic: list[Topic] = typer.Option(
        [],
        "--topic",
        help="registry, policy or deadletter; repeat for several (default: the "
        "registry and policy topics).",
    ),
    contributor: list[str] = typer.Option(
        [], "--contributor", "-c", help="Only events about this contributor; repeat for several."
    ),
    event_type: list[str] = typer.Option(
        [], "--type", "-t", help="Only these types; shell patterns, e.g. '*.registered.v1'."
    ),
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="Start at the oldest record instead of new ones only."
    ),
    limit: int | None = typer.Option(
        None, min=1, help="Stop after printing this many events (default: follow until Ctrl-C)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One CloudEvent JSON object per line."),
) -> None:
    """Follow the event stream: Kafka on the real stack (WFE_KAFKA_BOOTSTRAP_SERVERS), the
    in-process log of `wfe dev` otherwise (WFE_DATA_DIR)."""
    quiet_kafka_client()
    configured = settings()
    names = _names(configured, topic)
    keep = _Filter(frozenset(contributor), tuple(event_type))
    try:
        asyncio.run(_tail(configured, names, keep, from_beginning, limit, as_json))
    except KeyboardInterrupt:
        pass
    except TransportError as exc:
        fail(f"{exc} (is the stack up? `wfe stack status`)")


class _Filter:
    def __init__(self, contributors: frozenset[str], patterns: Sequence[str]) -> None:
        self._contributors = contributors
        self._patterns = patterns

    def keeps(self, event: CloudEvent | None, key: bytes | None) -> bool:
        subject = event.subject if event else (key or b"").decode(errors="replace")
        if self._contributors and subject not in self._contributors:
            return False
        if self._patterns:
            return event is not None and any(
                fnmatch.fnmatchcase(event.type, p) for p in self._patterns
            )
        return True


async def _tail(
    configured: ServiceSettings,
    names: dict[str, str],
    keep: _Filter,
    from_beginning: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    if configured.kafka_bootstrap_servers:
        source = _from_kafka(configured.kafka_bootstrap_servers, list(names), from_beginning)
    else:
        path = configured.data_dir / "transport.db"
        if not path.exists():
            fail(f"no event log at {path}: start `wfe dev` or set WFE_DATA_DIR")
        source = _from_log(f"sqlite+aiosqlite:///{path}", list(names), from_beginning)
    shown = 0
    # Closed here, inside the loop, so its clients stop before the loop does.
    async with contextlib.aclosing(source) as messages:
        async for message in messages:
            try:
                event: CloudEvent | None = from_binary(message.headers, message.value)
            except UndecodableMessage:
                event = None
            if not keep.keeps(event, message.key):
                continue
            if as_json:
                typer.echo(_json(message, event))
            else:
                console.print(_line(message, event, names))
            shown += 1
            if limit is not None and shown >= limit:
                return


async def _from_kafka(
    bootstrap: str, topics: list[str], from_beginning: bool
) -> AsyncGenerator[IncomingMessage]:
    subscriber = KafkaSubscriber(
        bootstrap, f"wfe-tail-{uuid.uuid4().hex[:12]}", topics, client_id="wfe-tail"
    )

    class Start:
        async def on_assigned(
            self, partitions: Sequence[TopicPartition]
        ) -> Mapping[TopicPartition, int | None]:
            if from_beginning:
                return {}
            return await subscriber.end_offsets(partitions)

        async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
            """Nothing kept: the tail commits nothing."""

    await subscriber.start(Start())
    try:
        while True:
            batch = await subscriber.fetch(500, 500)
            for message in sorted(
                (m for part in batch.values() for m in part), key=lambda m: m.timestamp_ms
            ):
                yield message
    finally:
        await subscriber.stop()


async def _from_log(
    url: str, topics: list[str], from_beginning: bool
) -> AsyncGenerator[IncomingMessage]:
    log = InProcessLog(url)
    await log.open()
    try:
        try:
            partitions = [tp for t in topics for tp in log.partitions(t)]
        except TransportError as exc:
            raise TransportError(f"{exc}: has `wfe dev` run in this folder?") from exc
        # `open` read where each partition ends now; later appends come from another process,
        # so the log is read past those ends by offset rather than through its own counters.
        positions = {tp: 0 if from_beginning else log.end_offset(tp) for tp in partitions}
        while True:
            found: list[IncomingMessage] = []
            for tp, offset in positions.items():
                records = await log.read(tp, offset, 500)
                if records:
                    positions[tp] = records[-1].offset + 1
                    found += records
            for message in sorted(found, key=lambda m: m.timestamp_ms):
                yield message
            if not found:
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await log.close()


STYLES = {"registry": "cyan", "policy": "magenta", "deadletter": "red"}


def _line(message: IncomingMessage, event: CloudEvent | None, names: dict[str, str]) -> Text:
    label = names.get(message.topic, message.topic)
    line = Text()
    line.append(datetime.fromtimestamp(message.timestamp_ms / 1000).strftime("%H:%M:%S.%f")[:-3])
    line.append(f" {label:<10}", style=STYLES.get(label, ""))
    line.append(f" {message.partition}@{message.offset:<7}", style="dim")
    if event is None:
        line.append(" undecodable", style="bold red")
        line.append(f" key={(message.key or b'').decode(errors='replace')}")
        return line
    line.append(f" {event.subject or '-'}", style="bold")
    line.append(f" v{event.sequence}" if event.sequence else "", style="dim")
    line.append(f" {_short(event.type)}", style="green")
    if event.effectivetime and event.time and event.effectivetime.date() != event.time.date():
        line.append(f" effective {event.effectivetime.date().isoformat()}", style="yellow")
    reason = message.headers.get("dlq_reason")
    if reason:
        line.append(f" reason: {reason.decode(errors='replace')}", style="red")
    if isinstance(event.data, dict) and event.data:
        line.append(" " + _summary(event.data), style="dim")
    return line


def _short(event_type: str) -> str:
    """`org.workforce.contributor.registered.v1` -> `contributor.registered.v1`."""
    return event_type.removeprefix("org.workforce.")


def _summary(data: dict[str, Any], width: int = 100) -> str:
    text = " ".join(
        f"{k}={json.dumps(v, separators=(',', ':'), default=str)}" for k, v in data.items()
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def _json(message: IncomingMessage, event: CloudEvent | None) -> str:
    if event is None:
        return json.dumps(
            {
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "undecodable": True,
            }
        )
    return event.model_dump_json(exclude_none=True)
