"""Settings shared by every service; each service extends `ServiceSettings`.

Defaults give the embedded mode (SQLite files under `data_dir`, in-process transport);
pointing `database_url` at PostgreSQL and `kafka_bootstrap_servers` at a broker gives the
real stack.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REGISTRY_TOPIC = "workforce.registry.events.v1"
POLICY_TOPIC = "workforce.policy.decisions.v1"
DEADLETTER_TOPIC = "workforce.deadletter.v1"


class Topics(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WFE_TOPIC_")

    registry: str = REGISTRY_TOPIC
    policy: str = POLICY_TOPIC
    deadletter: str = DEADLETTER_TOPIC


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WFE_", env_nested_delimiter="__")

    data_dir: Path = Path(".wfe/data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; unset means a SQLite file under data_dir.",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Comma-separated brokers; unset means the in-process transport.",
    )
    topics: Topics = Field(default_factory=Topics)
    environment: str = Field(
        default="development",
        description="Anything else refuses to start without a configured signing key.",
    )
    signing_key: str | None = Field(default=None, description="HS256 key for bearer tokens.")
    run_relays: bool = Field(
        default=True, description="Run each service's outbox relay in the API process too."
    )
    max_body_bytes: int = 4 * 1024 * 1024
    dashboard_stream_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A dashboard stream ends after this long and the page opens a new one, "
        "so a shutting-down server never waits on an endless response.",
    )

    publication_processes: int | None = Field(
        default=None,
        ge=1,
        description="Processes re-evaluating contributors after a policy publication "
        "(PostgreSQL; default: one per CPU the service may run on).",
    )
    registry_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Where reporting's demographic feed reaches the registry "
        "(`wfe dev` points it at its own port).",
    )
    dei_feed_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often reporting's demographic feed asks the registry for newly "
        "closed quarters (an erasure makes it ask at once).",
    )

    def database_url_for(self, service: str) -> str:
        """PostgreSQL: one database, a schema per service. SQLite: a file per service."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / service}.db"
