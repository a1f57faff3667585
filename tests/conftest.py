"""Session fixtures: the real backends (started once, or reused when already running),
per-run names so tests never share state, and the mesh of service processes.

Each run gets its own CQL keyspace, Redis key prefix, NATS stream/subject prefixes and MinIO
bucket; the services under test run as real processes on free ports and export their spans
to an in-test OTLP collector.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from grpc import aio

from infra import services as mesh_services
from infra import stack
from infra.settings import InfraSettings
from tests.otlp_collector import OtlpCollector

RUN_ID = uuid.uuid4().hex[:8]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def infra_settings() -> InfraSettings:
    return InfraSettings()


@pytest.fixture(scope="session")
def backends(infra_settings: InfraSettings) -> Iterator[InfraSettings]:
    """The real backends: reused if running, else installed (cached) and started for the
    session and stopped after it. A missing backend fails the session, never skips."""
    stack.install_all(infra_settings)
    started = stack.start_backends(infra_settings)
    yield infra_settings
    if started:
        stack.stop_backends(infra_settings, only=started)


@dataclass(frozen=True)
class RunNames:
    """Names private to this test run."""

    keyspace: str = f"pmtest_{RUN_ID}"
    redis_prefix: str = f"pmtest:{RUN_ID}:"
    stream_prefix: str = f"T{RUN_ID}"
    subject_prefix: str = f"t{RUN_ID}"
    bucket: str = f"pmtest-{RUN_ID}"

    def overrides(self) -> dict[str, str]:
        return {
            "PHOTOMESH_CQL_KEYSPACE": self.keyspace,
            "PHOTOMESH_REDIS_KEY_PREFIX": self.redis_prefix,
            "PHOTOMESH_NATS_STREAM_PREFIX": self.stream_prefix,
            "PHOTOMESH_NATS_SUBJECT_PREFIX": self.subject_prefix,
            "PHOTOMESH_MINIO_BUCKET": self.bucket,
        }


@pytest.fixture(scope="session")
def names() -> RunNames:
    return RunNames()


@pytest.fixture(scope="session")
def test_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def run_env(backends: InfraSettings, names: RunNames, test_run_dir: Path) -> Iterator[dict]:
    """The PHOTOMESH_* environment of this run, also applied to the test process itself
    so in-process clients (`load(CqlSettings)` …) see the same names."""
    settings = backends.model_copy(update={"run_dir": test_run_dir})
    env = mesh_services.service_env(settings, names.overrides())
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env
    _drop_run_state(names, env)


def _drop_run_state(names: RunNames, env: dict) -> None:
    """Leave nothing of this run behind in the shared backends."""
    import json

    import redis
    from cassandra.cluster import Cluster

    cluster = Cluster(json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"]),
                      port=int(env["PHOTOMESH_CQL_PORT"]), protocol_version=4)
    try:
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {names.keyspace}", timeout=60)
    finally:
        cluster.shutdown()
    client = redis.Redis.from_url(env["PHOTOMESH_REDIS_URL"])
    keys = list(client.scan_iter(match=f"{names.redis_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()

    async def drop_streams() -> None:
        import nats

        nc = await nats.connect(env["PHOTOMESH_NATS_URL"])
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(f"{names.stream_prefix}_"):
                await js.delete_stream(info.config.name)
        await nc.close()

    asyncio.run(drop_streams())


@pytest.fixture(scope="session")
async def collector() -> AsyncIterator[OtlpCollector]:
    """A real OTLP/gRPC receiver the services export their spans to."""
    receiver = OtlpCollector()
    await receiver.start()
    yield receiver
    await receiver.stop()


@dataclass(frozen=True)
class Mesh:
    """The service processes of this run: `target(name)` is where each listens."""

    settings: InfraSettings
    ports: dict[str, int]
    env: dict[str, str]

    def target(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"


@pytest.fixture(scope="session")
def mesh(run_env: dict, names: RunNames, collector: OtlpCollector, test_run_dir: Path,
         backends: InfraSettings) -> Iterator[Mesh]:
    """Every service as its own process on free ports, SERVING before tests begin."""
    settings = backends.model_copy(update={"run_dir": test_run_dir})
    ports = {name: _free_port() for name in mesh_services.SERVICES}
    overrides = {**names.overrides(), "PHOTOMESH_OTEL_ENDPOINT": collector.endpoint}
    mesh_services.migrate(settings, overrides)
    mesh_services.start_services(settings, overrides=overrides, ports=ports)
    env = mesh_services.service_env(settings, overrides, ports=ports)
    yield Mesh(settings, ports, env)
    mesh_services.stop_services(settings)


@pytest.fixture
async def channel_to(mesh: Mesh) -> AsyncIterator:
    """`channel_to("post")` opens a channel to a service of the mesh (closed after the test)."""
    opened: list[aio.Channel] = []

    def open_channel(name: str) -> aio.Channel:
        channel = aio.insecure_channel(mesh.target(name))
        opened.append(channel)
        return channel

    yield open_channel
    for channel in opened:
        await channel.close()

