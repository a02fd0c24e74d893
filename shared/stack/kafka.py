"""A single-node Apache Kafka broker (KRaft) run with plain `java` from jars Maven resolved.

See the handbook's kafka.md for why there is no Docker image or tarball. Layout:
`<state_dir>/kafka/{server.properties,cluster.id,kafka.pid,kafka.log,data/}`; the jars live in
`<cache_dir>/kafka-<version>/libs` and are shared by every clone on the machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.settings import DEADLETTER_TOPIC, POLICY_TOPIC, REGISTRY_TOPIC
from shared.stack.config import HOST, REPO_ROOT, StackSettings
from shared.stack.process import (
    ComponentStatus,
    Notify,
    StackError,
    command_line,
    is_alive,
    log_mentions,
    log_problem,
    poll,
    port_open,
    quiet,
    read_pid,
    run,
    spawn_detached,
    tail,
)

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
TOPICS = (REGISTRY_TOPIC, POLICY_TOPIC, DEADLETTER_TOPIC)
STARTED_LINE = "Kafka Server started"
TOPIC_ALREADY_EXISTS = 36
JVM_FLAGS = [
    "-Xms512m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
    # slf4j-simple is the logging binding (see pom.xml); timestamps make the log usable.
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
]


def _config_file(settings: StackSettings) -> Path:
    return settings.kafka_dir / "server.properties"


def _data_dir(settings: StackSettings) -> Path:
    return settings.kafka_dir / "data"


def _log_file(settings: StackSettings) -> Path:
    return settings.kafka_dir / "kafka.log"


def _pid_file(settings: StackSettings) -> Path:
    return settings.kafka_dir / "kafka.pid"


def _jars_marker(settings: StackSettings) -> Path:
    return settings.kafka_libs_dir.parent / "libs.complete"


def _jars_digest(settings: StackSettings) -> str:
    # Editing the pom (or the version) must trigger a new resolution.
    return hashlib.sha256(POM.read_bytes() + settings.kafka_version.encode()).hexdigest()


def jars_ready(settings: StackSettings) -> bool:
    marker = _jars_marker(settings)
    return marker.is_file() and marker.read_text().strip() == _jars_digest(settings)


async def ensure_jars(settings: StackSettings, notify: Notify = quiet) -> bool:
    """Copy the broker's runtime classpath into the cache unless done before; True if Maven ran."""
    if jars_ready(settings):
        return False
    notify(f"downloading Kafka {settings.kafka_version} with Maven (first run only)")
    settings.kafka_libs_dir.mkdir(parents=True, exist_ok=True)
    maven = ["mvn", "-B", "-q", "-f", str(POM), f"-Dmaven.repo.local={settings.cache_dir / 'm2'}"]
    # The plugin version is pinned: Debian's Maven defaults to a 2.x one.
    goal = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
    options = [f"-Dkafka.version={settings.kafka_version}", "-DincludeScope=runtime"]
    target = f"-DoutputDirectory={settings.kafka_libs_dir}"
    await run(*maven, goal, *options, target, what="fetching Kafka with Maven", time_limit=1800)
    _jars_marker(settings).write_text(_jars_digest(settings) + "\n")
    return True


def _running_pid(settings: StackSettings) -> int | None:
    # Only a java process started with this stack's config counts: pids get reused.
    pid = read_pid(_pid_file(settings))
    if pid is None or not is_alive(pid) or str(_config_file(settings)) not in command_line(pid):
        return None
    return pid


def status(settings: StackSettings) -> ComponentStatus:
    pid = _running_pid(settings)
    return ComponentStatus(
        name="kafka",
        running=pid is not None,
        pid=pid,
        address=f"{settings.kafka_bootstrap_servers} (controller {settings.kafka_controller_port})",
        detail=str(_data_dir(settings)),
    )


async def start(settings: StackSettings, notify: Notify = quiet) -> bool:
    """Start the broker unless it runs, and wait until it serves metadata; False if it ran.

    Restarting reuses the formatted data dir, so a stop/start keeps every topic and record.
    """
    await ensure_jars(settings, notify)
    pid = _running_pid(settings)
    started = pid is None
    if pid is None:
        for port in (settings.kafka_port, settings.kafka_controller_port):
            if await port_open(HOST, port):
                raise StackError(
                    f"port {port} is in use by another process; pick others with "
                    "WFE_STACK_KAFKA_PORT and WFE_STACK_KAFKA_CONTROLLER_PORT"
                )
        _write_config(settings)
        await _format_storage(settings, notify)
        notify(f"starting Kafka on port {settings.kafka_port}")
        pid = _spawn(settings)
    await _wait_until_ready(settings, pid)
    return started


async def stop(settings: StackSettings, notify: Notify = quiet, grace: float = 20.0) -> bool:
    """SIGTERM (controlled shutdown), then SIGKILL after `grace` seconds; False if not running."""
    pid = _running_pid(settings)
    _pid_file(settings).unlink(missing_ok=True)
    if pid is None:
        return False
    notify("stopping Kafka")

    async def exited() -> bool:
        return not is_alive(pid)

    for sig, seconds in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if await poll(exited, seconds, interval=0.1):
            return True
    raise StackError(f"Kafka (pid {pid}) survived SIGKILL")


def _write_config(settings: StackSettings) -> None:
    settings.kafka_dir.mkdir(parents=True, exist_ok=True)
    broker = settings.kafka_bootstrap_servers
    controller = f"{HOST}:{settings.kafka_controller_port}"
    # Static quorum (controller.quorum.voters): formats without --standalone, and the ports
    # may change between runs. Comments on the other values: the handbook's kafka.md.
    _config_file(settings).write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{controller}
listeners=PLAINTEXT://{broker},CONTROLLER://{controller}
advertised.listeners=PLAINTEXT://{broker}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={_data_dir(settings)}
num.partitions={settings.topic_partitions}
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Lets fault tests use short consumer sessions, so a killed member's partitions move on fast.
group.min.session.timeout.ms=1000
log.cleaner.dedupe.buffer.size=2097152
server.max.startup.time.ms=60000
""")


async def _format_storage(settings: StackSettings, notify: Notify) -> None:
    if (_data_dir(settings) / "meta.properties").is_file():
        return
    notify("formatting Kafka storage")
    id_file = settings.kafka_dir / "cluster.id"
    if not id_file.is_file():
        id_file.write_text(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=") + "\n")
    cluster_id = id_file.read_text().strip()
    tool = [_java(), "-cp", f"{settings.kafka_libs_dir}/*", "kafka.tools.StorageTool"]
    config = _config_file(settings)
    await run(*tool, "format", "-t", cluster_id, "-c", config, what="formatting Kafka storage")


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("java not found: apt-get install default-jre-headless")
    return java


def _spawn(settings: StackSettings) -> int:
    log = _log_file(settings)
    if log.exists():  # keep the previous run's log for post-mortems
        log.replace(log.with_name("kafka.log.1"))
    pid = spawn_detached(
        _java(),
        *JVM_FLAGS,
        *("-cp", f"{settings.kafka_libs_dir}/*", "kafka.Kafka", str(_config_file(settings))),
        log=log,
    )
    _pid_file(settings).write_text(f"{pid}\n")
    return pid


async def _wait_until_ready(settings: StackSettings, pid: int) -> None:
    log = _log_file(settings)

    async def ready() -> bool:
        if not is_alive(pid):
            raise StackError(f"Kafka exited during start-up: {log_problem(log)} (log: {log})")
        return log_mentions(log, STARTED_LINE) and await _serves_metadata(settings)

    if not await poll(ready, settings.start_timeout, interval=0.25):
        raise StackError(
            f"Kafka not ready after {settings.start_timeout:g} s (log: {log}):\n{tail(log)}"
        )


@contextlib.asynccontextmanager
async def _admin(settings: StackSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10_000
    )
    try:
        await admin.start()
        yield admin
    finally:
        await admin.close()


async def _serves_metadata(settings: StackSettings) -> bool:
    try:
        async with _admin(settings) as admin:
            await admin.describe_cluster()
    except (KafkaError, OSError, TimeoutError):
        return False
    return True


async def ensure_topics(settings: StackSettings, notify: Notify = quiet) -> list[str]:
    """Create the missing project topics and wait for their leaders; return the names created."""
    try:
        async with _admin(settings) as admin:
            missing = [name for name in TOPICS if name not in set(await admin.list_topics())]
            if missing:
                notify(f"creating topics {', '.join(missing)}")
                response = await admin.create_topics(
                    [NewTopic(name, settings.topic_partitions, 1) for name in missing]
                )
                for error in response.to_object()["topic_errors"]:
                    if error["error_code"] not in (0, TOPIC_ALREADY_EXISTS):
                        raise StackError(f"creating topic {error['topic']} failed: {error}")
            await _wait_for_leaders(admin, settings)
    except (KafkaError, OSError) as exc:
        raise StackError(f"Kafka at {settings.kafka_bootstrap_servers}: {exc!r}") from exc
    return missing


async def _wait_for_leaders(admin: AIOKafkaAdminClient, settings: StackSettings) -> None:
    # Creation returns before partitions have leaders; clients started right away would fail.
    async def led() -> bool:
        topics = await admin.describe_topics(list(TOPICS))
        return all(
            topic["error_code"] == 0 and all(p["leader"] >= 0 for p in topic["partitions"])
            for topic in topics
        )

    if not await poll(led, settings.start_timeout):
        raise StackError(f"topics have no leader after {settings.start_timeout:g} s")
