"""The mesh's health, from every replica of every process, answered as grpc.health.v1.

Each configured target (``host:port``; a name is resolved again every
`resolve_interval_seconds`, so a Kubernetes headless Service yields one address per pod) is
watched with the standard ``Health.Watch("")`` stream; a replica whose stream breaks counts
as not serving until it answers again. From those, `health_statuses` derives (a pure
function):

* a process (``feed``, ``feed_fanout``) or a gRPC service it serves
  (``photomesh.feed.v1.FeedService``) is SERVING while at least one replica is: callers are
  routed to the serving ones;
* the mesh (the empty name) is SERVING only while every process is.

The statuses are set on the library's asyncio health servicer, so Check and Watch behave as
everywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MESH = ""


@dataclass(frozen=True)
class Topology:
    """What to watch: each process's targets, and which process serves each gRPC service."""

    processes: Mapping[str, Sequence[str]]
    services: Mapping[str, str]

    @classmethod
    def of(cls, targets: Mapping[str, Sequence[str]], service_names: Sequence[str]
           ) -> Topology:
        """gRPC services map to processes by package (``photomesh.<process>.v1.X``), as
        the edge's clusters do; services with no process configured are left out."""
        services = {}
        for name in service_names:
            parts = name.split(".")
            if len(parts) > 2 and parts[0] == "photomesh" and parts[1] in targets:
                services[name] = parts[1]
        return cls(dict(targets), services)

    def health_names(self) -> dict[str, frozenset[str]]:
        """Every name health answers for, with the processes it needs serving."""
        names = {MESH: frozenset(self.processes)}
        names |= {process: frozenset({process}) for process in self.processes}
        names |= {service: frozenset({process}) for service, process in self.services.items()}
        return names


def health_statuses(topology: Topology, replicas: Mapping[str, Mapping[str, bool]]
                    ) -> dict[str, bool]:
    """Serving or not, per health name, from whether each replica (by address) serves."""
    serving = {process for process, seen in replicas.items() if any(seen.values())}
    return {name: needs <= serving for name, needs in topology.health_names().items()}


async def resolve(target: str) -> set[str]:
    """``host:port`` as one ``address:port`` per address the host resolves to."""
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return {target}
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, int(port),
                                                         type=socket.SOCK_STREAM)
    return {f"[{info[4][0]}]:{port}" if info[0] == socket.AF_INET6 else f"{info[4][0]}:{port}"
            for info in infos}


class MeshHealth:
    """Watches the replicas and keeps `servicer`'s statuses current; `run()` until cancelled."""

    def __init__(self, topology: Topology, servicer: health.aio.HealthServicer, *,
                 resolve_interval: float = 30.0, retry_max: float = 2.0) -> None:
        self.topology = topology
        self._servicer = servicer
        self._resolve_interval = resolve_interval
        self._retry_max = retry_max
        self._replicas: dict[str, dict[str, bool]] = {p: {} for p in topology.processes}
        self._published: dict[str, bool] = {}
        self._watches: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()

    def replicas(self) -> dict[str, dict[str, bool]]:
        """A copy of what each replica last said (address -> serving), per process."""
        return {process: dict(seen) for process, seen in self._replicas.items()}

    async def run(self) -> None:
        await self.publish()
        resolvers = [asyncio.ensure_future(self._follow(process, target))
                     for process, targets in self.topology.processes.items()
                     for target in targets]
        try:
            await asyncio.gather(*resolvers)
        finally:
            for task in [*resolvers, *self._watches.values()]:
                task.cancel()
            await asyncio.gather(*resolvers, *self._watches.values(), return_exceptions=True)

    async def _follow(self, process: str, target: str) -> None:
        """Keep one watch per address `target` resolves to."""
        mine: set[str] = set()
        while True:
            try:
                addresses = await resolve(target)
            except (OSError, ValueError) as exc:
                log.warning("cannot resolve %s (%s): %s; keeping %s", target, process, exc,
                            sorted(mine))
                addresses = mine
            for address in addresses - mine:
                self._watches[(process, address)] = asyncio.ensure_future(
                    self._watch(process, address))
            for address in mine - addresses:
                self._watches.pop((process, address)).cancel()
                await self._mark(process, address, None)
            mine = addresses
            await asyncio.sleep(self._resolve_interval)

    async def _watch(self, process: str, address: str) -> None:
        retry = 0.1
        async with aio.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                try:
                    async for reply in stub.Watch(health_pb2.HealthCheckRequest(service="")):
                        retry = 0.1
                        await self._mark(process, address, reply.status == SERVING)
                except aio.AioRpcError as exc:
                    log.debug("health watch of %s (%s) ended: %s", address, process,
                              exc.code())
                await self._mark(process, address, False)
                await asyncio.sleep(retry)
                retry = min(retry * 2, self._retry_max)

    async def _mark(self, process: str, address: str, serving: bool | None) -> None:
        """Record a replica's state (None: it is gone) and publish what changed."""
        seen = self._replicas[process]
        if serving is None:
            seen.pop(address, None)
        elif seen.get(address) == serving:
            return
        else:
            seen[address] = serving
        await self.publish()

    async def publish(self) -> None:
        """Set what changed on the servicer (at first: every name NOT_SERVING until its
        replicas answer; the library's servicer starts with "" SERVING)."""
        async with self._lock:
            for name, serving in health_statuses(self.topology, self._replicas).items():
                before = self._published.get(name)
                if before != serving:
                    self._published[name] = serving
                    await self._servicer.set(name, SERVING if serving else NOT_SERVING)
                    if name == MESH:
                        log.info("mesh %s", "SERVING" if serving else "NOT SERVING")
                    elif name in self.topology.processes and before is not None:
                        seen = self._replicas[name]
                        log.log(logging.INFO if serving else logging.WARNING,
                                "%s %s (%d of %d replicas serving)", name,
                                "SERVING" if serving else "NOT SERVING",
                                sum(seen.values()), len(seen))
