"""The local cluster profile (`./photomesh up --profile cluster`): each backend in its
cluster form, on this machine, apart from everything else (own run dir, ports, addresses).

* **CQL**: three Apache Cassandra 5 nodes on the loopback addresses 127.0.0.2/3/4 (Linux
  routes all of 127/8 to lo), one token each, small heaps, hinted handoff on. The services
  write and read at QUORUM with replication factor 3 (NetworkTopologyStrategy), as on
  ScyllaDB in production: any one node may be down.
* **NATS**: three JetStream servers in one cluster (routes between them); every stream is
  declared with 3 replicas (PHOTOMESH_NATS_REPLICAS), and the services know all three.
* **MinIO**: one server erasure-coded over four drives (one erasure set, EC:2): any one
  drive may be lost (and replaced empty: MinIO heals it) without losing an object. Not
  several servers: MinIO refuses loopback endpoints for a multi-server pool when it
  believes it runs in a container (/.dockerenv exists on this machine), and the issue
  allows "MinIO erasure-coded over several drives". So a kill of the server stops media
  until it returns; the production form (several servers) is infra/k8s's.
* **Redis**: one server of its own (caches and counters are rebuilt from the CQL store).

Credentials are the profile's own (infra/credentials.py, in its run dir, made by
`install`): CQL logins with the install's role (``system_auth`` at RF 3, no default
superuser), NATS users and a Redis password on every server, MinIO's root user and upload
key.

The services (and the edge) of the profile run beside it on their own ports (the usual ones
plus `service_port_offset`). Nothing here touches the single-node backends of
`./photomesh up`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra import credentials
from infra.backends.base import Backend, port_open
from infra.backends.cassandra import CassandraBackend, Ring, cql_greeting
from infra.backends.cql_auth import DEFAULT_SUPERUSER, ensure_role
from infra.backends.minio import MinioBackend
from infra.backends.nats import NatsBackend, Routes
from infra.backends.redis import RedisBackend
from infra.process import ProcessError
from infra.progress import say
from infra.settings import InfraSettings

#: Murmur3 tokens splitting the ring evenly between three nodes.
TOKENS = ("-9223372036854775808", "-3074457345618258603", "3074457345618258602")
DATACENTER = "datacenter1"  # Cassandra's SimpleSnitch names its one data center so
START_TIMEOUT = 420.0  # three JVMs starting at once on a small machine


def _default_run() -> Path:
    return Path.home() / ".local" / "state" / "photomesh-cluster"


class ClusterSettings(BaseSettings):
    """Addresses and sizes of the cluster profile (prefix ``PHOTOMESH_CLUSTER_``)."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_CLUSTER_", extra="ignore",
                                      frozen=True)

    run_dir: Path = Field(default_factory=_default_run)
    cql_hosts: list[str] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    cql_port: int = 19042
    cql_storage_port: int = 17000
    cassandra_heap_mb: int = Field(default=512, ge=256, le=1024)
    nats_port: int = 24222           # server i listens on nats_port + i
    nats_cluster_port: int = 26222   # ... routes on nats_cluster_port + i
    nats_monitor_port: int = 28222   # ... monitoring on nats_monitor_port + i
    minio_drives: int = Field(default=4, ge=4, le=16)
    minio_port: int = 29000
    minio_console_port: int = 29001
    redis_port: int = 26379
    envoy_port: int = 28080
    envoy_admin_port: int = 28901
    service_port_offset: int = 1000


@dataclass(frozen=True)
class Node:
    """One server of a backend cluster: its kind (cql, nats, minio), index and backend."""

    kind: str
    index: int
    backend: Backend

    @property
    def label(self) -> str:
        return f"{self.kind}-{self.index}"


class LocalCluster:
    """The backends of the cluster profile: start, stop, kill a node, bring it back."""

    def __init__(self, settings: ClusterSettings | None = None,
                 base: InfraSettings | None = None) -> None:
        self.settings = settings or ClusterSettings()
        self.why_not = ""
        self._build(credentials.of_run_dir((base or InfraSettings()).model_copy(update={
            "run_dir": self.settings.run_dir})))

    def _build(self, base: InfraSettings) -> None:
        self.base = base
        c = self.settings
        seeds = tuple(f"{h}:{c.cql_storage_port}" for h in c.cql_hosts)
        routes = tuple(f"nats://{self.base.host}:{c.nats_cluster_port + i}"
                       for i in range(len(c.cql_hosts)))
        self.nodes: list[Node] = []
        for i, host in enumerate(c.cql_hosts):
            s = self._node_settings("cql", i).model_copy(update={
                "host": host, "cql_port": c.cql_port, "cassandra_storage_port":
                c.cql_storage_port, "cassandra_heap_mb": c.cassandra_heap_mb})
            self.nodes.append(Node("cql", i, CassandraBackend(
                s, Ring(TOKENS[i], seeds))))
        for i in range(len(routes)):
            s = self._node_settings("nats", i).model_copy(update={
                "nats_port": c.nats_port + i, "nats_monitor_port": c.nats_monitor_port + i})
            self.nodes.append(Node("nats", i, NatsBackend(s, Routes(
                f"nats-{i}", c.nats_cluster_port + i, routes))))
        # Its bucket notifications go to the first NATS server (MinIO's NATS target takes
        # one address; while that server is down, events wait in MinIO's queue directory).
        self.minio = MinioBackend(self._node_settings("minio", 0).model_copy(update={
            "minio_port": c.minio_port, "minio_console_port": c.minio_console_port,
            "nats_port": c.nats_port}), drives=c.minio_drives)
        self.nodes.append(Node("minio", 0, self.minio))
        self.redis = RedisBackend(self._node_settings("redis", 0).model_copy(update={
            "redis_port": c.redis_port}))

    def _node_settings(self, kind: str, index: int) -> InfraSettings:
        return self.base.model_copy(update={"run_dir": self.base.run_dir / f"{kind}-{index}"})

    # --- what the services are given ---------------------------------------------------

    def infra_settings(self) -> InfraSettings:
        """The profile's InfraSettings: its run dir, edge and service ports."""
        c = self.settings
        return self.base.model_copy(update={
            "envoy_port": c.envoy_port, "envoy_admin_port": c.envoy_admin_port,
            "service_port_offset": c.service_port_offset, "redis_port": c.redis_port,
            "minio_port": c.minio_port, "nats_port": c.nats_port,
            "cql_port": c.cql_port})

    def backend_env(self) -> dict[str, str]:
        """The PHOTOMESH_* backend settings of a service of this profile."""
        c, host = self.settings, self.base.host
        return {
            "PHOTOMESH_CQL_CONTACT_POINTS": json.dumps(c.cql_hosts),
            "PHOTOMESH_CQL_PORT": str(c.cql_port),
            "PHOTOMESH_CQL_LOCAL_DC": DATACENTER,
            "PHOTOMESH_CQL_CONSISTENCY": "QUORUM",
            "PHOTOMESH_CQL_SERIAL_CONSISTENCY": "SERIAL",
            "PHOTOMESH_CQL_REPLICATION":
                f"{{'class': 'NetworkTopologyStrategy', '{DATACENTER}': 3}}",
            "PHOTOMESH_NATS_URL": ",".join(self.base.nats_url(host, c.nats_port + i)
                                           for i in range(len(c.cql_hosts))),
            "PHOTOMESH_NATS_REPLICAS": "3",
            "PHOTOMESH_REDIS_URL": self.base.redis_url(host, c.redis_port),
            "PHOTOMESH_MINIO_ENDPOINT": f"{host}:{c.minio_port}",
            # media URLs through the profile's own edge
            "PHOTOMESH_MEDIA_PUBLIC_BASE_URL":
                f"http://{self.base.edge_host}:{c.envoy_port}/media",
        }

    # --- lifecycle ---------------------------------------------------------------------

    def node(self, kind: str, index: int) -> Node:
        return next(n for n in self.nodes if n.kind == kind and n.index == index)

    def servers(self) -> list[Backend]:
        return [n.backend for n in self.nodes] + [self.redis]

    def install(self) -> None:
        """Install the servers and make the profile's credentials (once)."""
        self._build(credentials.ensure(self.base))
        for b in (self.nodes[0].backend, self.node("nats", 0).backend,
                  self.node("minio", 0).backend, self.redis):
            if not b.installed():
                b.install()

    def start(self, timeout: float = START_TIMEOUT) -> list[str]:
        """Start whatever is not running (all at once), then wait until every node, the
        NATS cluster's JetStream and the CQL ring are ready. Returns what was started."""
        started = []
        c = self.settings
        for b in self.servers():
            if b.process.is_running() and b.credentials_outdated():
                say(f"{b.name}@{b.endpoint()} runs without the profile's credentials: "
                    f"restarting it on its data")
                b.stop()
            if not b.process.is_running():
                for port in getattr(b, "ports", dict)().values():
                    if port_open(b.settings.host, port, timeout=0.2):
                        raise ProcessError(f"{b.name} of the cluster profile: "
                                           f"{b.settings.host}:{port} is in use")
                b.start()
                started.append(f"{b.name}@{b.endpoint()}")
        deadline = time.monotonic() + timeout

        def wait(b: Backend) -> str | None:
            try:
                b.wait_healthy(max(5.0, deadline - time.monotonic()))
            except ProcessError as e:
                return str(e)
            return None

        with ThreadPoolExecutor(max_workers=len(self.servers())) as pool:
            failures = [e for e in pool.map(wait, self.servers()) if e]
        if failures:
            raise ProcessError("\n\n".join(failures))
        self._wait(self.jetstream_ready, deadline, "a JetStream meta leader")
        self._wait(self.cql_ring_up, deadline, "every CQL node seeing the others")
        if self.base.cql_password:
            ensure_role(c.cql_hosts, c.cql_port, self.base.cql_username, self.base.cql_password,
                        auth_replication=f"{{'class': 'NetworkTopologyStrategy', "
                                         f"'{DATACENTER}': 3}}")
        return started

    def _wait(self, check: Any, deadline: float, what: str) -> None:
        while not check():
            if time.monotonic() > deadline:
                raise ProcessError(f"cluster profile: timed out waiting for {what}"
                                   f"{f' ({self.why_not})' if self.why_not else ''}")
            time.sleep(0.5)

    def jetstream_ready(self) -> bool:
        """A JetStream meta leader with every other server current (R3 streams need all
        three placed). Only the leader's /jsz lists the others."""
        import urllib.request

        c = self.settings
        for i in range(len(c.cql_hosts)):
            url = f"http://{self.base.host}:{c.nats_monitor_port + i}/jsz"
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    meta = json.loads(reply.read()).get("meta_cluster") or {}
            except (OSError, ValueError):
                continue
            followers = meta.get("replicas")
            if followers:
                current = sum(1 for r in followers if r.get("current"))
                self.why_not = f"JetStream: {current} of {len(followers)} followers current"
                return current == len(c.cql_hosts) - 1
        self.why_not = "JetStream: no meta leader"
        return False

    def cql_ring_up(self) -> bool:
        """Every node answers CQL and knows the two others (system.peers, from gossip).
        What stops it is kept in `why_not` for the timeout's message."""
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import WhiteListRoundRobinPolicy

        c = self.settings
        login = self._cql_login()
        for host in c.cql_hosts:
            only = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([host]),
                                    request_timeout=5)
            cluster = Cluster([host], port=c.cql_port, protocol_version=4,
                              execution_profiles={EXEC_PROFILE_DEFAULT: only},
                              auth_provider=PlainTextAuthProvider(*login) if login else None,
                              connect_timeout=3, control_connection_timeout=3)
            try:
                rows = cluster.connect().execute("SELECT peer FROM system.peers")
                peers = len(list(rows))
                if peers != len(c.cql_hosts) - 1:
                    self.why_not = f"{host} knows {peers} peer(s)"
                    return False
            except Exception as e:  # noqa: BLE001 - not up yet
                self.why_not = f"{host}: {e!r}"
                return False
            finally:
                cluster.shutdown()
        return True

    def _cql_login(self) -> tuple[str, str] | None:
        """The profile's CQL role, or the default superuser while the role is not made
        yet (a new ring: `start` makes it once every node is up), or None without one."""
        if not self.base.cql_password:
            return None
        ours = (self.base.cql_username, self.base.cql_password)
        host, port = self.settings.cql_hosts[0], self.settings.cql_port
        if cql_greeting(host, port, credentials=ours) == "accepted":
            return ours
        if cql_greeting(host, port, credentials=DEFAULT_SUPERUSER) == "accepted":
            return DEFAULT_SUPERUSER
        return ours

    def stop(self) -> list[str]:
        stopped = []
        for b in reversed(self.servers()):
            if b.stop():
                stopped.append(f"{b.name}@{b.endpoint()}")
        return stopped

    # --- failures ----------------------------------------------------------------------

    def kill(self, kind: str, index: int) -> int:
        """kill -9 of one node (no shutdown of any kind); returns the pid killed."""
        proc = self.node(kind, index).backend.process
        pid = proc.pid()
        if pid is None:
            raise ProcessError(f"{kind}-{index} is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while proc.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.pid_file.unlink(missing_ok=True)
        return pid

    def revive(self, nodes: Iterable[Node], timeout: float = START_TIMEOUT) -> None:
        """Start killed nodes again on their data; back when each is healthy and, for the
        CQL store, seen by the others again."""
        nodes = list(nodes)
        for node in nodes:
            node.backend.start()
        deadline = time.monotonic() + timeout
        for node in nodes:
            node.backend.wait_healthy(max(5.0, deadline - time.monotonic()))
        self._wait(self.cql_ring_up, deadline, "every CQL node seeing the others")
        self._wait(self.jetstream_ready, deadline, "a JetStream meta leader")

    def lose_drive(self, index: int) -> Path:
        """Drive `index` (1-based) of the MinIO server is lost and replaced by an empty
        one, as after a disk failure; the server must be down (kill it first). MinIO
        formats the new drive when it starts and heals the objects onto it."""
        if self.minio.process.is_running():
            raise ProcessError("lose a MinIO drive only while its server is down")
        drive = self.minio.drive_paths[index - 1]
        shutil.rmtree(drive)
        drive.mkdir()
        return drive

    def describe(self) -> str:
        c = self.settings
        return (f"CQL {', '.join(f'{h}:{c.cql_port}' for h in c.cql_hosts)} (RF 3, QUORUM); "
                f"NATS {', '.join(str(c.nats_port + i) for i in range(len(c.cql_hosts)))} "
                f"(streams R3); MinIO :{c.minio_port} over {c.minio_drives} drives (EC:2); "
                f"Redis :{c.redis_port}; run dir {c.run_dir}")


def say_status(cluster: LocalCluster) -> None:
    for b in cluster.servers():
        pid = b.process.pid()
        say(f"{b.name:10} {('up' if pid and b.healthy() else 'DOWN'):5} pid {pid or '-':>7} "
            f"{b.endpoint()}")
