"""The two backends every e2e suite that can runs on: the real stack (PostgreSQL + Kafka) and
the embedded mode (SQLite + the in-process transport), so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from shared.settings import ServiceSettings
from tests.servers import SIGNING_KEY

BACKENDS = ("stack", "embedded")


def embedded_settings(data_dir: Path) -> ServiceSettings:
    """The embedded mode's settings: no database URL and no brokers, so each service gets a
    SQLite file under `data_dir` and they share the in-process transport there. Both are
    cleared explicitly, as `embedded_app` does: the stack's WFE_DATABASE_URL and
    WFE_KAFKA_BOOTSTRAP_SERVERS are usually in the environment the tests run in."""
    return ServiceSettings(
        data_dir=data_dir, signing_key=SIGNING_KEY, database_url=None, kafka_bootstrap_servers=None
    )
