"""Where the local stack lives and how it is reached (env prefix `WFE_STACK_`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The package is installed editable, so the repository (with deploy/kafka/pom.xml) is its parent.
REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WFE_STACK_")

    # Anchored at the repository, not the cwd, so `wfe stack status` from a subfolder finds it.
    state_dir: Path = REPO_ROOT / ".wfe" / "stack"
    # Outside the clone so a fresh clone on the same machine reuses the downloaded broker.
    cache_dir: Path = Path.home() / ".cache" / "wfe"
    postgres_port: int = 54329
    postgres_user: str = "wfe"
    postgres_password: str = "wfe"
    postgres_database: str = "wfe"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_version: str = "4.1.1"
    topic_partitions: int = 6
    start_timeout: float = 120.0

    @field_validator("state_dir", "cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Paths end up in server.properties and pid files that outlive the current cwd.
        return value.expanduser().absolute()

    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def kafka_libs_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.kafka_version}" / "libs"

    @property
    def database_url(self) -> str:
        user = quote(self.postgres_user, safe="")
        password = quote(self.postgres_password, safe="")
        return (
            f"postgresql+asyncpg://{user}:{password}@{HOST}:{self.postgres_port}"
            f"/{self.postgres_database}"
        )

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"{HOST}:{self.kafka_port}"
