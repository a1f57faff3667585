"""A private mesh on the shared backends: its own names, its own service processes.

Tests and benchmarks both run the services from *this* checkout on free ports, against the
running backends, with names no other run uses (CQL keyspace, Redis key prefix, NATS stream
and subject prefixes, MinIO bucket), and drop what they made afterwards.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra import services as mesh_services
from infra.settings import InfraSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RunNames:
    """Names private to one run (`kind` is ``test`` or ``bench``)."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    kind: str = "test"

    @property
    def keyspace(self) -> str:
        return f"pm{self.kind}_{self.run_id}"

    @property
    def redis_prefix(self) -> str:
        return f"pm{self.kind}:{self.run_id}:"

    @property
    def stream_prefix(self) -> str:
        return f"{self.kind[0].upper()}{self.run_id}"

    @property
    def subject_prefix(self) -> str:
        return f"{self.kind[0]}{self.run_id}"

    @property
    def bucket(self) -> str:
        return f"pm{self.kind}-{self.run_id}"

    def overrides(self) -> dict[str, str]:
        return {
            "PHOTOMESH_CQL_KEYSPACE": self.keyspace,
            "PHOTOMESH_REDIS_KEY_PREFIX": self.redis_prefix,
            "PHOTOMESH_NATS_STREAM_PREFIX": self.stream_prefix,
            "PHOTOMESH_NATS_SUBJECT_PREFIX": self.subject_prefix,
            "PHOTOMESH_MINIO_BUCKET": self.bucket,
        }


@dataclass
class Mesh:
    """The service processes of one run: `target(name)` is where each listens."""

    settings: InfraSettings
    ports: dict[str, int]
    env: dict[str, str]

    def target(self, name: str) -> str:
        return f"{self.settings.host}:{self.ports[name]}"

    def stop(self) -> None:
        mesh_services.stop_services(self.settings)


def start_mesh(settings: InfraSettings, overrides: Mapping[str, str],
               names: list[str] | None = None) -> Mesh:
    """Migrate, then start `names` (default all) from this checkout on free ports, each
    SERVING before this returns. `settings.run_dir` should be private to the run."""
    ports = {name: free_port() for name in mesh_services.SERVICES}
    mesh_services.migrate(settings, overrides)
    mesh_services.start_services(settings, names, overrides=overrides, ports=ports)
    return Mesh(settings, ports, mesh_services.service_env(settings, overrides, ports=ports))


def drop_run_state(names: RunNames, env: Mapping[str, str]) -> None:
    """Leave nothing of the run behind in the shared backends."""
    import redis
    from cassandra.cluster import Cluster

    cluster = Cluster(json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"]),
                      port=int(env["PHOTOMESH_CQL_PORT"]), protocol_version=4)
    try:
        # Generous: a loaded single node can take a while to drop dozens of tables.
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {names.keyspace}", timeout=240)
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
    _drop_bucket(names.bucket, env)


def _drop_bucket(bucket: str, env: Mapping[str, str]) -> None:
    from minio import Minio
    from minio.deleteobjects import DeleteObject

    client = Minio(env["PHOTOMESH_MINIO_ENDPOINT"], access_key=env["PHOTOMESH_MINIO_ACCESS_KEY"],
                   secret_key=env["PHOTOMESH_MINIO_SECRET_KEY"], secure=False)
    if not client.bucket_exists(bucket):
        return
    doomed = (DeleteObject(o.object_name) for o in client.list_objects(bucket, recursive=True)
              if o.object_name)
    for error in client.remove_objects(bucket, doomed):
        raise RuntimeError(f"could not delete {error.name} from {bucket}: {error.message}")
    client.remove_bucket(bucket)


@contextmanager
def private_mesh(settings: InfraSettings, run_dir: Path, kind: str = "bench",
                 extra: Mapping[str, str] | None = None) -> Iterator[Mesh]:
    """A whole private mesh for a benchmark or script: the backends must be running
    (``./photomesh up``); the services run from this checkout and stop afterwards."""
    names = RunNames(kind=kind)
    settings = settings.model_copy(update={"run_dir": run_dir})
    overrides = {**names.overrides(), **(extra or {})}
    mesh = start_mesh(settings, overrides)
    try:
        yield mesh
    finally:
        mesh.stop()
        drop_run_state(names, mesh.env)
