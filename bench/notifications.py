"""CPU per notification delivered and per ListNotifications, on a private mesh and edge.

    python -m bench.notifications [--likes 300] [--duration 8] [--concurrency 8]

1. Delivery: `--likes` LikePost calls (real posts, likers and authors) after a warm-up
   round; CPU of every mesh process from the first call until every durable consumer of
   the post stream has acknowledged everything, divided by the likes: "LikePost, everything
   it triggers", and the notification worker's share of it.
2. ListNotifications (page of 20, each notification with up to 3 actors) through the
   edge, over gRPC and over REST, closed loop at `--concurrency` for `--duration` seconds
   after a warm-up: CPU per call of each process.

CPU is utime + stime from ``/proc/<pid>/stat`` of this run's service processes and Envoy
and of the shared Redis, Cassandra and NATS servers (found by their listening ports).
Each process's idle rate (consumers polling, health checks; for the shared servers, the
other runs on the machine), measured for a few seconds just before each phase, is
subtracted; the shared servers' is printed as "background". On a busy shared machine the
CQL store's background swamps what one run adds, so the CQL requests this run's keyspace
received are printed too. The load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grpc import aio
from photomesh.notification.v1 import notification_service_pb2 as npb
from photomesh.notification.v1 import notification_service_pb2_grpc as ngrpc
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from bench.harness import Result, run_load, table
from infra import services as mesh_services
from infra.backends.envoy import private_edge
from infra.edge import EdgeSettings
from infra.sandbox import Mesh, private_mesh
from infra.settings import InfraSettings
from services.runtime.events import EventBus
from services.runtime.settings import NatsSettings
from tests.graph_support import User, Users
from tests.media_support import ready_media

MESH_SETTINGS = {"PHOTOMESH_AUTH_ARGON2_TIME_COST": "1",
                 "PHOTOMESH_AUTH_ARGON2_MEMORY_KIB": "8192"}
BENCH_EDGE = EdgeSettings(rate_limit_requests=1_000_000, rate_limit_burst=1_000_000,
                          anonymous_rate_limit_requests=1_000_000,
                          anonymous_rate_limit_burst=1_000_000,
                          media_rate_limit_requests=1_000_000, media_rate_limit_burst=1_000_000)
SHARED = ("cassandra", "redis", "nats")
LATENCY_VIEWS = ("coordinator_read_latency", "coordinator_scan_latency",
                 "coordinator_write_latency")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def listening_pid(port: int) -> int:
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r"pid=(\d+)", out)
    if not match:
        raise RuntimeError(f"nothing listens on port {port}")
    return int(match[1])


class Processes:
    """The pids whose CPU is summed, by name."""

    def __init__(self, mesh: Mesh, settings: InfraSettings, envoy_pid: int | None) -> None:
        self.cql = CqlRequests(settings, mesh.env["PHOTOMESH_CQL_KEYSPACE"])
        self.pids: dict[str, int] = {}
        for name in mesh_services.SERVICES:
            pid = mesh_services.service_process(mesh.settings, name).pid()
            if pid is not None:
                self.pids[name] = pid
        if envoy_pid is not None:
            self.pids["envoy"] = envoy_pid
        self.pids["cassandra"] = listening_pid(settings.cql_port)
        self.pids["redis"] = listening_pid(settings.redis_port)
        self.pids["nats"] = listening_pid(settings.nats_port)

    def sample(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    async def background(self, seconds: float = 4.0) -> dict[str, float]:
        """CPU seconds per second of each process while this run is idle."""
        before, t0 = self.sample(), time.monotonic()
        await asyncio.sleep(seconds)
        after, elapsed = self.sample(), time.monotonic() - t0
        return {n: (after[n] - before[n]) / elapsed for n in before}


class CqlRequests:
    """Requests the CQL store coordinated per table of this run's keyspace (its virtual
    tables count them), so the store's share is seen apart from other runs' load.
    Lightweight transactions are not in these counts."""

    def __init__(self, settings: InfraSettings, keyspace: str) -> None:
        from cassandra.cluster import Cluster

        from infra.sandbox import cql_auth
        from infra.services import backend_credentials

        self._cluster = Cluster(["127.0.0.1"], port=settings.cql_port, protocol_version=4,
                                auth_provider=cql_auth(backend_credentials(settings)))
        self._session = self._cluster.connect()
        self._keyspace = keyspace

    def sample(self) -> dict[str, int]:
        found = {}
        for view in LATENCY_VIEWS:
            rows = self._session.execute(
                f"SELECT table_name, count FROM system_views.{view} WHERE keyspace_name = %s",
                (self._keyspace,))
            for row in rows:
                found[f"{view.split('_')[1]} {row.table_name}"] = row.count
        return found

    def show(self, before: dict[str, int], after: dict[str, int], ops: int) -> None:
        moved = {k: (after[k] - before.get(k, 0)) / ops for k in after
                 if after[k] - before.get(k, 0) > 0}
        print("  CQL requests per operation (this run's keyspace): " + (", ".join(
            f"{k} {v:.2f}" for k, v in sorted(moved.items())) or "none"))

    def close(self) -> None:
        self._cluster.shutdown()


def per_op(before: dict[str, float], after: dict[str, float], elapsed: float,
           background: dict[str, float], ops: int) -> dict[str, float]:
    """CPU ms per operation of each process, net of its idle rate."""
    return {name: max(0.0, after[name] - before[name] - background[name] * elapsed) * 1000
            / ops for name in before}


def show(title: str, figures: dict[str, float], background: dict[str, float]) -> None:
    print(f"\n{title} (load average {os.getloadavg()[0]:.2f})")
    for name, ms in sorted(figures.items(), key=lambda kv: -kv[1]):
        if ms >= 0.005:
            print(f"  {name:<22}{ms:8.3f} ms")
    print(f"  {'whole mesh':<22}{sum(figures.values()):8.3f} ms")
    print("  background subtracted (CPU s/s): "
          + ", ".join(f"{n} {background[n]:.3f}" for n in SHARED))


async def drained(bus: EventBus, stream: str, timeout: float = 300.0) -> None:
    """Until every durable consumer of `stream` has nothing pending or unacknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        consumers = await bus.js.consumers_info(stream)
        if all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{stream} not drained after {timeout}s")


async def setup(mesh: Mesh, authors: int, posts_each: int, likers: int
                ) -> tuple[list[User], list[User], list[int]]:
    auth = aio.insecure_channel(mesh.target("auth"))
    post_ch = aio.insecure_channel(mesh.target("post"))
    media_ch = aio.insecure_channel(mesh.target("media"))
    post = pgrpc.PostServiceStub(post_ch)
    people = await Users.register(auth, authors + likers, "nbench")
    owners, fans = people[:authors], people[authors:]
    gate = asyncio.Semaphore(4)

    async def one_post(owner: User) -> int:
        async with gate:
            media = await ready_media(media_ch, owner.token)
            reply = await post.CreatePost(ppb.CreatePostRequest(
                request_id=str(uuid.uuid4()), caption="bench", media_ids=[media.media_id]),
                metadata=owner.md)
            return reply.post.post_id

    post_ids = list(await asyncio.gather(*(one_post(o) for o in owners
                                           for _ in range(posts_each))))
    for channel in (auth, post_ch, media_ch):
        await channel.close()
    return owners, fans, post_ids


async def deliveries(mesh: Mesh, procs: Processes, fans: list[User], post_ids: list[int],
                     likes: int, warmup: int) -> None:
    bus = await EventBus.connect(NatsSettings(
        url=mesh.env["PHOTOMESH_NATS_URL"],
        stream_prefix=mesh.env["PHOTOMESH_NATS_STREAM_PREFIX"],
        subject_prefix=mesh.env["PHOTOMESH_NATS_SUBJECT_PREFIX"]), "bench")
    stream = bus.stream_name("post")
    channel = aio.insecure_channel(mesh.target("post"))
    post = pgrpc.PostServiceStub(channel)
    # Liker i likes posts in an order of their own, so groups both start and regroup.
    pairs = [(fans[i % len(fans)], post_ids[(i * 7 + i // len(fans)) % len(post_ids)])
             for i in range(len(fans) * len(post_ids))]
    pairs = list(dict.fromkeys(pairs))
    if len(pairs) < warmup + likes:
        raise SystemExit(f"only {len(pairs)} distinct (liker, post) pairs; ask for fewer")
    gate = asyncio.Semaphore(8)

    async def like(fan: User, post_id: int) -> None:
        async with gate:
            await post.LikePost(ppb.LikePostRequest(post_id=post_id), metadata=fan.md)

    await asyncio.gather(*(like(f, p) for f, p in pairs[:warmup]))
    await drained(bus, stream)
    background = await procs.background()
    requests = procs.cql.sample()
    before, t0 = procs.sample(), time.monotonic()
    await asyncio.gather(*(like(f, p) for f, p in pairs[warmup:warmup + likes]))
    await drained(bus, stream)
    after, elapsed = procs.sample(), time.monotonic() - t0
    figures = per_op(before, after, elapsed, background, likes)
    figures.pop("envoy", None)
    show(f"LikePost and everything it triggers: CPU per like ({likes} likes, "
         f"{likes / elapsed:.0f}/s, {warmup} before as warm-up)", figures, background)
    procs.cql.show(requests, procs.cql.sample(), likes)
    await channel.close()
    await bus.close()


async def listing(mesh: Mesh, procs: Processes, edge_target: str, edge_http: str,
                  reader: User, duration: float, concurrency: int) -> list[Result]:
    channel = aio.insecure_channel(edge_target)
    stub = ngrpc.NotificationServiceStub(channel)
    first = await stub.ListNotifications(npb.ListNotificationsRequest(page_size=20),
                                         metadata=reader.md)
    actors = sum(len(n.actors) for n in first.notifications)
    print(f"\nthe reader's first page: {len(first.notifications)} notifications, "
          f"{actors} actors shown")

    async def grpc_list(_: int) -> None:
        await stub.ListNotifications(npb.ListNotificationsRequest(page_size=20),
                                     metadata=reader.md, timeout=10)

    pool = ThreadPoolExecutor(concurrency)
    url = f"{edge_http}/v1/notifications?pageSize=20"

    def get() -> None:
        request = urllib.request.Request(url, headers={"authorization": f"Bearer {reader.token}"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()

    async def rest_list(_: int) -> None:
        await asyncio.get_running_loop().run_in_executor(pool, get)

    results = []
    for name, op in (("ListNotifications gRPC via edge", grpc_list),
                     ("ListNotifications REST via edge", rest_list)):
        await run_load(name, op, concurrency=concurrency, duration=None, count=50, warmup=0)
        background = await procs.background()
        requests = procs.cql.sample()
        before, t0 = procs.sample(), time.monotonic()
        result = await run_load(name, op, concurrency=concurrency, duration=duration,
                                warmup=0)
        after, elapsed = procs.sample(), time.monotonic() - t0
        show(f"{name}: CPU per call ({result.count} calls, {result.throughput:.0f}/s, "
             f"{result.errors} errors)", per_op(before, after, elapsed, background,
                                                max(1, result.count)), background)
        procs.cql.show(requests, procs.cql.sample(), max(1, result.count))
        results.append(result)
    pool.shutdown()
    await channel.close()
    return results


async def measure(mesh: Mesh, procs: Processes, edge_target: str, edge_http: str,
                  args: argparse.Namespace) -> list[Result]:
    owners, fans, post_ids = await setup(mesh, args.authors, args.posts, args.likers)
    await deliveries(mesh, procs, fans, post_ids, args.likes, args.warmup)
    return await listing(mesh, procs, edge_target, edge_http, owners[0], args.duration,
                         args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors", type=int, default=2)
    parser.add_argument("--posts", type=int, default=20, help="posts per author")
    parser.add_argument("--likers", type=int, default=40)
    parser.add_argument("--likes", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=80)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    settings = InfraSettings()
    with tempfile.TemporaryDirectory(prefix="pm-bench-notifications-") as tmp:
        run_dir = Path(tmp)
        with private_mesh(settings, run_dir, extra=MESH_SETTINGS) as mesh, \
                private_edge(settings.model_copy(update={"run_dir": run_dir}), mesh.env,
                             BENCH_EDGE) as envoy:
            host, port = envoy.settings.host, envoy.settings.envoy_port
            procs = Processes(mesh, settings, envoy.process.pid())
            try:
                results = asyncio.run(measure(mesh, procs, f"{host}:{port}",
                                              f"http://{host}:{port}", args))
            finally:
                procs.cql.close()
    print()
    print(table(results, "ListNotifications through the edge"))


if __name__ == "__main__":
    main()
