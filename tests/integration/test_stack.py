"""The stack `make test` started: a second `up` changes nothing, and both servers answer."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared import stack
from shared.settings import DEADLETTER_TOPIC, POLICY_TOPIC, REGISTRY_TOPIC
from shared.stack import StackSettings, UpReport, kafka


@pytest.fixture(scope="module")
def settings(postgres_admin_url: str, kafka_bootstrap: str) -> StackSettings:
    settings = StackSettings()
    # Guards against inspecting some other stack than the one the suite was pointed at.
    assert (settings.database_url, settings.kafka_bootstrap_servers) == (
        postgres_admin_url,
        kafka_bootstrap,
    )
    return settings


async def test_up_on_a_running_stack_does_nothing(settings: StackSettings) -> None:
    report = await stack.up(settings)

    assert report == UpReport(
        jars_downloaded=False, postgres_started=False, kafka_started=False, topics_created=[]
    )
    assert kafka.jars_ready(settings)
    assert [(c.name, c.running) for c in stack.status(settings)] == [
        ("postgres", True),
        ("kafka", True),
    ]


async def test_topics_exist_with_the_configured_partition_count(
    settings: StackSettings, kafka_bootstrap: str
) -> None:
    topics = [REGISTRY_TOPIC, POLICY_TOPIC, DEADLETTER_TOPIC]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()

    partitions = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    assert partitions == dict.fromkeys(topics, settings.topic_partitions)


async def test_postgres_answers_as_the_application_role(postgres_admin_url: str) -> None:
    engine = create_async_engine(postgres_admin_url)
    try:
        async with engine.connect() as connection:
            one = await connection.scalar(text("select 1"))
            role = await connection.scalar(text("select current_user"))
    finally:
        await engine.dispose()

    assert (one, role) == (1, "wfe")


async def test_postgres_compresses_the_write_ahead_log_where_it_can(
    postgres_admin_url: str,
) -> None:
    engine = create_async_engine(postgres_admin_url)
    try:
        async with engine.connect() as connection:
            offered = await connection.scalar(
                text("select enumvals from pg_settings where name = 'wal_compression'")
            )
            setting = await connection.scalar(text("show wal_compression"))
    finally:
        await engine.dispose()

    assert setting == ("lz4" if "lz4" in offered else "off")
