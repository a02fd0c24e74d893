"""The local stack: a private PostgreSQL cluster and a single-node Kafka broker.

`up` is idempotent (installs, downloads, creates and starts only what is missing); `kafka` and
`postgres` expose `start`/`stop` for fault tests that take one of them away for a while.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from shared.stack import kafka, postgres
from shared.stack.config import StackSettings
from shared.stack.process import ComponentStatus, Notify, StackError, apt_install, quiet

__all__ = ["StackError", "StackSettings", "UpReport", "down", "environment", "status", "up"]


@dataclass(frozen=True)
class UpReport:
    """What `up` had to do; a second `up` on a running stack reports nothing done."""

    jars_downloaded: bool
    postgres_started: bool
    kafka_started: bool
    topics_created: list[str]


async def up(settings: StackSettings, notify: Notify = quiet) -> UpReport:
    await _install_prerequisites(settings, notify)
    jars_downloaded = await kafka.ensure_jars(settings, notify)
    postgres_started, kafka_started = await _side_by_side(
        postgres.start(settings, notify), kafka.start(settings, notify)
    )
    topics_created = await kafka.ensure_topics(settings, notify)
    return UpReport(jars_downloaded, postgres_started, kafka_started, topics_created)


async def down(settings: StackSettings, notify: Notify = quiet) -> None:
    await kafka.stop(settings, notify)
    await postgres.stop(settings, notify)


def status(settings: StackSettings) -> list[ComponentStatus]:
    return [postgres.status(settings), kafka.status(settings)]


def environment(settings: StackSettings) -> dict[str, str]:
    """Variables pointing the services and the test suite at this stack."""
    return {
        "WFE_DATABASE_URL": settings.database_url,
        "WFE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "WFE_TEST_DATABASE_URL": settings.database_url,
        "WFE_TEST_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
    }


async def _side_by_side(*starts: Coroutine[Any, Any, bool]) -> list[bool]:
    """Run start-ups in parallel (each mostly waits) and let every one finish even if another
    fails: a cancelled initdb would leave a half-made cluster behind."""
    results = await asyncio.gather(*starts, return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    for failure in failures:
        if not isinstance(failure, StackError):
            raise failure
    if failures:
        raise StackError("; ".join(str(failure) for failure in failures))
    return [result for result in results if isinstance(result, bool)]


async def _install_prerequisites(settings: StackSettings, notify: Notify) -> None:
    # One apt-get run for everything: two in parallel would fight over the dpkg lock.
    packages = []
    if postgres.bin_dir(settings) is None:
        packages.append("postgresql")
    if shutil.which("java") is None:
        packages.append("default-jre-headless")
    if shutil.which("mvn") is None and not kafka.jars_ready(settings):
        packages.append("maven")
    if packages:
        await apt_install(packages, notify)
