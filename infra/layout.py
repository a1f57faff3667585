"""Where every process of a mesh listens: replicas, gRPC and metrics ports, worker ids.

A mesh runs each service and worker as `replicas` processes (instances). Instance r of a
service listens on its gRPC port (`./photomesh up`: its default port in
services/processes.py, plus `REPLICA_PORT_STEP` per replica after the first:
post on 50053 and 50153) and, when metrics are on (`InfraSettings.metrics_offset`: with
`--observability` or an offset set), serves /metrics on another (the gRPC port plus that
offset). Each instance has its own Snowflake worker id.

Peers reach every instance of a service through one target, ``PHOTOMESH_<NAME>_TARGET``:
``127.0.0.1:50053`` for one, ``ipv4:127.0.0.1:50053,127.0.0.1:50153`` for several, which
gRPC resolves into both addresses and balances round-robin (services/peers/
mesh.py); the edge reads the same targets and makes each address an endpoint.

The layout a run dir's processes were started with is saved there (``layout.json``), so
`status`, `down`, `logs` and a restart of some services see the same instances.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.settings import InfraSettings
from services.processes import PROCESSES

#: Process name -> default gRPC port (workers serve only health on theirs), from the one
#: declaration of the processes (services/processes.py). Start order is this order.
SERVICE_PORTS: dict[str, int] = {p.name: p.port for p in PROCESSES}
SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)
REPLICA_PORT_STEP = 100
MAX_REPLICAS = 9
MULTI_ADDRESS_SCHEME = "ipv4:"


#: A test session's own block of ports, ``lo-hi``, for sessions started side by side
#: (infra/checks.py): its free ports are drawn from the block, so two sessions never hand
#: out the same one (from the kernel's pool, a port chosen by one while its process was
#: still starting could be handed to the other).
PORT_BLOCK_VARIABLE = "PHOTOMESH_TEST_PORT_BLOCK"


def _bind_free(sock: socket.socket, host: str) -> None:
    block = os.environ.get(PORT_BLOCK_VARIABLE)
    if not block:
        sock.bind((host, 0))
        return
    low, high = (int(end) for end in block.split("-"))
    for port in random.sample(range(low, high + 1), high + 1 - low):
        try:
            sock.bind((host, port))
            return
        except OSError:
            continue
    raise OSError(f"no free port left in {PORT_BLOCK_VARIABLE}={block}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        _bind_free(s, host)
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Instance:
    """One process of a service."""

    service: str
    replica: int  # 1, 2, ...
    port: int
    metrics_port: int | None
    worker_id: int

    @property
    def process_name(self) -> str:
        """Its pid and log file name: ``svc-post`` for the first, ``svc-post-2`` after."""
        suffix = "" if self.replica == 1 else f"-{self.replica}"
        return f"svc-{self.service}{suffix}"

    @property
    def label(self) -> str:
        return self.service if self.replica == 1 else f"{self.service}#{self.replica}"


@dataclass(frozen=True)
class Layout:
    """Every instance of a mesh, on one host."""

    host: str
    instances: tuple[Instance, ...]

    @property
    def replicas(self) -> int:
        return max((i.replica for i in self.instances), default=1)

    def of(self, service: str) -> list[Instance]:
        return [i for i in self.instances if i.service == service]

    def first(self, service: str) -> Instance:
        return self.of(service)[0]

    def ports(self) -> dict[str, int]:
        """The first replica's port of each service."""
        return {i.service: i.port for i in self.instances if i.replica == 1}

    def target(self, service: str) -> str:
        """How a peer dials every instance of `service` (see the module docstring)."""
        return join_target([(self.host, i.port) for i in self.of(service)])

    def restricted(self, services: Sequence[str]) -> Layout:
        return Layout(self.host, tuple(i for i in self.instances if i.service in services))

    def to_json(self) -> str:
        return json.dumps({"host": self.host,
                           "instances": [asdict(i) for i in self.instances]}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data = json.loads(text)
        return cls(data["host"], tuple(Instance(**i) for i in data["instances"]))


def _worker_id(service: str, replica: int) -> int:
    return SERVICES.index(service) + len(SERVICES) * (replica - 1)


def planned(settings: InfraSettings, replicas: int | None = None,
            ports: Mapping[str, int] | None = None) -> Layout:
    """The fixed layout of `./photomesh up`: base ports (plus the settings' offset, or
    `ports` for the first replica), REPLICA_PORT_STEP apart per replica."""
    replicas = replicas or settings.replicas
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas must be 1..{MAX_REPLICAS}, got {replicas}")
    base = {name: port + settings.service_port_offset for name, port in SERVICE_PORTS.items()}
    base.update(ports or {})
    metrics = settings.metrics_offset
    instances = []
    for replica in range(1, replicas + 1):
        for name in SERVICES:
            port = base[name] + REPLICA_PORT_STEP * (replica - 1)
            instances.append(Instance(name, replica, port, port + metrics if metrics else None,
                                      _worker_id(name, replica)))
    return Layout(settings.host, tuple(instances))


def free_ports(host: str, count: int) -> list[int]:
    """`count` distinct free ports: each is held open until all are chosen, so none is
    handed out twice (one port at a time, the kernel may give the same one again)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            held.append(sock)
            _bind_free(sock, host)
        return [int(sock.getsockname()[1]) for sock in held]
    finally:
        for sock in held:
            sock.close()


def free(settings: InfraSettings, replicas: int = 1, metrics: bool = True) -> Layout:
    """A layout on free ports (a test or benchmark mesh), all of them distinct."""
    names = [(name, replica) for replica in range(1, replicas + 1) for name in SERVICES]
    ports = iter(free_ports(settings.host, len(names) * (2 if metrics else 1)))
    instances = [Instance(name, replica, next(ports), next(ports) if metrics else None,
                          _worker_id(name, replica)) for name, replica in names]
    return Layout(settings.host, tuple(instances))


def single(settings: InfraSettings, ports: Mapping[str, int]) -> Layout:
    """One instance per service at `ports` (defaults for the rest), no metrics endpoint:
    the environment of a process started on its own."""
    merged = {**SERVICE_PORTS, **ports}
    return Layout(settings.host, tuple(Instance(name, 1, merged[name], None,
                                                _worker_id(name, 1)) for name in SERVICES))


def layout_file(settings: InfraSettings) -> Path:
    return settings.run_dir / "layout.json"


def save(settings: InfraSettings, layout: Layout) -> None:
    path = layout_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(layout.to_json() + "\n")


def saved(settings: InfraSettings) -> Layout | None:
    try:
        return Layout.from_json(layout_file(settings).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current(settings: InfraSettings) -> Layout:
    """The layout this run dir's processes run (or would run) with. A process declared
    since the run dir's layout was saved (services/processes.py gained one) gets its
    planned instances, with worker ids after the saved ones, until the next `up`."""
    found = saved(settings)
    if found is None:
        return planned(settings)
    have = {i.service for i in found.instances}
    missing = [i for i in planned(settings).instances if i.service not in have]
    if not missing:
        return found
    next_id = max((i.worker_id for i in found.instances), default=-1) + 1
    added = tuple(Instance(i.service, i.replica, i.port, i.metrics_port, next_id + n)
                  for n, i in enumerate(missing))
    return Layout(found.host, found.instances + added)


def join_target(addresses: Sequence[tuple[str, int]]) -> str:
    if len(addresses) == 1:
        host, port = addresses[0]
        return f"{host}:{port}"
    return MULTI_ADDRESS_SCHEME + ",".join(f"{host}:{port}" for host, port in addresses)


def target_addresses(target: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of a target `join_target` made (or a plain ``host:port``)."""
    text = target.removeprefix(MULTI_ADDRESS_SCHEME)
    found = []
    for address in text.split(","):
        host, _, port = address.strip().rpartition(":")
        found.append((host, int(port)))
    return found
