"""The `eventsourcing` library's PostgreSQL application recorder, configured the way the
library documents (POSTGRES_* settings), in its own schema of the same database.

It is synchronous, so its writers are threads, one pooled connection each. Each save
records one stored event whose state is the same JSON our events carry (data, metadata,
effective time); the library's own recorder takes it from there: a transaction that locks
the table, notifies listeners and inserts, in one pipelined round trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from tests.bench.drivers import SyncAppend
from tests.bench.tables import Stored, TableAdmin
from tests.bench.workload import STREAM_LENGTH, Streams, payload_stream

TABLE = "stored_events"
HISTORY = f"""
    INSERT INTO {{table}} (originator_id, originator_version, topic, state)
    SELECT md5('history-' || g / {STREAM_LENGTH})::uuid, g % {STREAM_LENGTH} + 1, {{type}},
           convert_to({{state}}, 'UTF8')
    FROM generate_series(0, $1 - 1) AS g
"""


class EventsourcingLibrary:
    name = "eventsourcing"

    def __init__(self, url: str, schema: str, admin: TableAdmin) -> None:
        self.schema = schema
        self._url = sa.make_url(url)
        self._admin = admin

    async def create(self) -> None:
        await self._admin.create_schema(self.schema)

    async def reset(self) -> None:
        await self._admin.restart(self.schema, TABLE, history=HISTORY)

    async def stored(self) -> Stored:
        return await self._admin.stored(self.schema, TABLE)

    def _environment(self, connections: int) -> Environment:
        url = self._url
        return Environment(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": str(url.database),
                "POSTGRES_HOST": str(url.host),
                "POSTGRES_PORT": str(url.port or 5432),
                "POSTGRES_USER": str(url.username),
                "POSTGRES_PASSWORD": str(url.password),
                "POSTGRES_SCHEMA": self.schema,
                "POSTGRES_POOL_SIZE": str(connections),
                "POSTGRES_MAX_OVERFLOW": "0",
            }
        )

    @contextmanager
    def writers(self, connections: int) -> Iterator[LibraryWriters]:
        """Blocking (it connects and creates its table): call it from a worker thread."""
        factory = PostgresFactory(self._environment(connections))
        try:
            yield LibraryWriters(factory.application_recorder())
        finally:
            factory.close()


class LibraryWriters:
    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder = recorder

    def single(self) -> SyncAppend:
        payloads = payload_stream()
        streams = Streams(STREAM_LENGTH)

        def append() -> int:
            stream, at = streams.claim(1)
            p = next(payloads)
            state = {
                "data": p.data,
                "metadata": p.metadata,
                "effective_time": p.effective_time.isoformat(),
            }
            event = StoredEvent(
                originator_id=stream,
                originator_version=at + 1,
                topic=p.type,
                state=json.dumps(state, separators=(",", ":")).encode(),
            )
            self._recorder.insert_events([event])
            return 1

        return append
