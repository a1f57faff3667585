"""A private mesh on the shared backends: its own names, its own service processes.

Tests and benchmarks both run the services from *this* checkout on free ports, against the
running backends, with names no other run uses (CQL keyspace, Redis key prefix, NATS stream
and subject prefixes, MinIO bucket), and drop what they made afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra import layout as layouts
from infra import services as mesh_services
from infra.layout import Layout
from infra.layout import free_port as free_port  # re-exported
from infra.settings import InfraSettings


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
    """The service processes of one run: `target(name)` is where each service's first
    instance listens, `balanced_target(name)` reaches every instance (infra/layout.py)."""

    settings: InfraSettings
    layout: Layout
    env: dict[str, str]

    @property
    def ports(self) -> dict[str, int]:
        return self.layout.ports()

    def target(self, name: str) -> str:
        return f"{self.layout.host}:{self.layout.first(name).port}"

    def balanced_target(self, name: str) -> str:
        return self.layout.target(name)

    def metrics_url(self, name: str, replica: int = 1) -> str:
        port = self.layout.of(name)[replica - 1].metrics_port
        if port is None:
            raise ValueError(f"{name} of this mesh has no metrics endpoint")
        return f"http://{self.layout.host}:{port}/metrics"

    def stop(self) -> None:
        mesh_services.stop_services(self.settings)


def start_mesh(settings: InfraSettings, overrides: Mapping[str, str],
               names: list[str] | None = None, *, replicas: int = 1,
               metrics: bool = True) -> Mesh:
    """Migrate, then start `names` (default all), `replicas` processes each, from this
    checkout on free ports, each SERVING before this returns. `settings.run_dir` should be
    private to the run."""
    layout = layouts.free(settings, replicas, metrics)
    mesh_services.migrate(settings, overrides)
    mesh_services.start_services(settings, names, overrides=overrides, layout=layout)
    return Mesh(settings, layout, mesh_services.service_env(settings, overrides,
                                                            layout=layout))


def cql_auth(env: Mapping[str, str]):  # type: ignore[no-untyped-def]
    """The driver's login from a service environment (None without credentials)."""
    from cassandra.auth import PlainTextAuthProvider

    if not env.get("PHOTOMESH_CQL_PASSWORD"):
        return None
    return PlainTextAuthProvider(env.get("PHOTOMESH_CQL_USERNAME", ""),
                                 env["PHOTOMESH_CQL_PASSWORD"])


def drop_run_state(names: RunNames, env: Mapping[str, str]) -> None:
    """Leave nothing of the run behind in the shared backends."""
    import redis
    from cassandra.cluster import Cluster

    cluster = Cluster(json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"]),
                      port=int(env["PHOTOMESH_CQL_PORT"]), protocol_version=4,
                      auth_provider=cql_auth(env))
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

        from services.runtime.events import server_urls

        nc = await nats.connect(server_urls(env["PHOTOMESH_NATS_URL"]))
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
                 extra: Mapping[str, str] | None = None, *, replicas: int = 1,
                 backend_env: Mapping[str, str] | None = None,
                 metrics: bool = False) -> Iterator[Mesh]:
    """A whole private mesh for a benchmark or script: the backends must be running
    (``./photomesh up``, or another set whose addresses `backend_env` gives, e.g. the
    cluster profile's); the services run from this checkout and stop afterwards. No
    /metrics unless `metrics` (a benchmark measures the mesh as it runs uncollected)."""
    names = RunNames(kind=kind)
    settings = settings.model_copy(update={"run_dir": run_dir})
    overrides = {**(backend_env or {}), **names.overrides(), **(extra or {})}
    mesh = start_mesh(settings, overrides, replicas=replicas, metrics=metrics)
    try:
        yield mesh
    finally:
        mesh.stop()
        drop_run_state(names, mesh.env)
