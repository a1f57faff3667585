"""One node of each backend cluster dies (kill -9) under write load: the mesh keeps serving,
and once the nodes are back nothing acknowledged is missing.

The cluster profile (infra/cluster.py) on addresses and ports of its own: three CQL nodes
(RF 3, QUORUM), three NATS servers (streams at 3 replicas), one MinIO server erasure-coded
over four drives, Redis; the mesh of this checkout on it. Too heavy for every CI run (three
JVMs, ~5 minutes): `./photomesh test-cluster` (a run is quoted in docs/operations.md).

What dies, all at once, under a steady load of comments and sign-ups:
* CQL node 2 of 3 and NATS server 2 of 3 (kill -9): writes go on, at QUORUM and on R3
  streams, the whole outage long;
* the MinIO server (kill -9) and, while it is down, one of its four drives, replaced by an
  empty one (a disk lost with the crash). With one MinIO server, media is unavailable until
  it returns (the mesh's other writes are not); when it does, every object acknowledged
  before is there, byte for byte, from the three drives left (EC:2), and it takes new ones.

Writes are retried by the client with the same request id on UNAVAILABLE, as the contract
allows (idempotent creates); each is recorded once acknowledged.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from photomesh.auth.v1 import auth_service_pb2 as apb
from photomesh.auth.v1 import auth_service_pb2_grpc as agrpc
from photomesh.media.v1 import media_service_pb2 as mpb
from photomesh.media.v1 import media_service_pb2_grpc as mgrpc
from photomesh.post.v1 import post_service_pb2 as ppb

from infra.cluster import ClusterSettings, LocalCluster
from infra.sandbox import Mesh, RunNames, start_mesh
from tests.feed.support import World, eventually
from tests.media_support import http_get, jpeg_bytes, ready_media, ready_media_ids

pytestmark = pytest.mark.cluster

#: Addresses and ports apart from `./photomesh up --profile cluster`'s (and the shared ones).
TEST_CLUSTER = dict(cql_hosts=["127.0.0.5", "127.0.0.6", "127.0.0.7"], nats_port=24322,
                    nats_cluster_port=26322, nats_monitor_port=28322, minio_port=29300,
                    minio_console_port=29301, redis_port=26479, envoy_port=28180,
                    envoy_admin_port=29001)
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
LOAD_SECONDS_BEFORE, OUTAGE_SECONDS, STEADY_SECONDS = 8.0, 30.0, 10.0
LOST_DRIVE = 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # Not under pytest's temp dirs: a later pytest session of anyone on the machine may
    # remove those while the nodes still write there. Always stopped and removed.
    run_dir = Path(tempfile.mkdtemp(prefix="photomesh-cluster-test-"))
    running = LocalCluster(ClusterSettings(run_dir=run_dir, **TEST_CLUSTER))
    try:
        running.install()
        started = time.monotonic()
        running.start()
        print(f"\ncluster: up in {time.monotonic() - started:.0f} s: {running.describe()}")
        yield running
    finally:
        running.stop()
        print(f"\ncluster: logs of every node and process kept in {keep_logs(run_dir)}")
        shutil.rmtree(run_dir, ignore_errors=True)


def keep_logs(run_dir: Path) -> Path:
    """Copy the run's log directories out of it (the rest, data, is removed)."""
    kept = Path(f"{run_dir}-logs")
    for logs in run_dir.rglob("logs"):
        if logs.is_dir():
            shutil.copytree(logs, kept / logs.relative_to(run_dir), dirs_exist_ok=True)
    return kept


@pytest.fixture(scope="module")
def cluster_mesh(cluster: LocalCluster) -> Iterator[Mesh]:
    # The cluster and its data go away with the module: nothing of the run to drop.
    settings = cluster.infra_settings().model_copy(
        update={"run_dir": cluster.settings.run_dir / "mesh"})
    # Media URLs name the profile's edge (not started here); the test reads MinIO itself.
    mesh = start_mesh(settings, {**cluster.backend_env(), **RunNames().overrides()})
    try:
        yield mesh
    finally:
        mesh.stop()


@pytest.fixture
async def cluster_channel(cluster_mesh: Mesh) -> AsyncIterator:
    opened: list[grpc.aio.Channel] = []

    def open_channel(name: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(cluster_mesh.balanced_target(name))
        opened.append(channel)
        return channel

    yield open_channel
    for channel in opened:
        await channel.close()


@dataclass
class Ledger:
    """What the mesh acknowledged, when, and how the calls went."""

    comments: list[int] = field(default_factory=list)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (username, password)
    acked_at: list[float] = field(default_factory=list)  # monotonic, every acknowledged write
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (acked at, seconds)
    calls: int = 0
    first_try_ok: int = 0
    retried: int = 0
    slowest_s: float = 0.0

    def acked_between(self, start: float, end: float) -> int:
        return sum(start <= t < end for t in self.acked_at)

    def p50_ms(self, start: float, end: float) -> float:
        within = [s for t, s in self.latencies if start <= t < end]
        return 1000 * statistics.median(within) if within else float("nan")


async def acknowledged(ledger: Ledger, call, attempts: int = 10):  # type: ignore[no-untyped-def]
    """`call()` until acknowledged, retrying UNAVAILABLE with the same request (its id)."""
    ledger.calls += 1
    started = time.monotonic()
    for attempt in range(attempts):
        try:
            reply = await call()
        except grpc.aio.AioRpcError as e:
            if e.code() not in RETRYABLE or attempt == attempts - 1:
                raise
            ledger.retried += 1
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        now = time.monotonic()
        ledger.first_try_ok += attempt == 0
        ledger.slowest_s = max(ledger.slowest_s, now - started)
        ledger.acked_at.append(now)
        ledger.latencies.append((now, now - started))
        return reply
    raise AssertionError("unreachable")


async def settled(step, patience: float = 120.0):  # type: ignore[no-untyped-def]
    """`await step()`, again while it fails UNAVAILABLE (set-up only: not counted)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return await step()
        except grpc.aio.AioRpcError as e:
            if e.code() not in RETRYABLE or time.monotonic() > deadline:
                raise
        await asyncio.sleep(2.0)


async def write_load(world: World, auth: agrpc.AuthServiceStub, author, post_id: int,
                     ledger: Ledger, stop: asyncio.Event) -> None:
    """Comments on a post (post service: CQL at QUORUM + an event on an R3 stream) and
    sign-ups (auth: lightweight transactions at SERIAL), one after the other, until `stop`."""
    i = 0
    while not stop.is_set():
        request = ppb.CreateCommentRequest(request_id=str(uuid.uuid4()), post_id=post_id,
                                           text=f"comment {i}")
        reply = await acknowledged(ledger, lambda r=request: world.posts.CreateComment(
            r, metadata=author.md, timeout=10))
        ledger.comments.append(reply.comment.comment_id)
        if i % 4 == 0:
            username, password = f"fo_{uuid.uuid4().hex[:10]}", "correct horse battery"
            signup = apb.RegisterRequest(request_id=str(uuid.uuid4()), username=username,
                                         password=password, display_name="Failover")
            await acknowledged(ledger, lambda r=signup: auth.Register(r, timeout=10))
            ledger.accounts.append((username, password))
        i += 1


async def renditions(media: mgrpc.MediaServiceStub, token: str, media_id: str,
                     mesh: Mesh) -> dict[tuple[int, int], str]:
    """sha256 of every rendition of a READY item, fetched from MinIO itself (not the edge)."""
    got = (await media.GetMedia(mpb.GetMediaRequest(media_id=media_id),
                                metadata=(("authorization", f"Bearer {token}"),),
                                timeout=10)).media
    base = f"{mesh.env['PHOTOMESH_MEDIA_PUBLIC_BASE_URL']}/"
    endpoint = f"http://{mesh.env['PHOTOMESH_MINIO_ENDPOINT']}/"
    digests = {}
    for variant in got.variants:
        assert variant.url.startswith(base), variant.url
        status, _, body = await asyncio.to_thread(http_get,
                                                  endpoint + variant.url[len(base):])
        assert status == 200, f"{media_id} {variant.name}: {status} {body[:200]!r}"
        digests[(variant.name, variant.format)] = hashlib.sha256(body).hexdigest()
    assert digests, f"{media_id} has no renditions"
    return digests


def objects_on(drive: Path) -> int:
    """Objects MinIO has written to a drive (one xl.meta each), while it may be writing."""
    try:
        return sum(1 for _ in drive.rglob("xl.meta"))
    except OSError:
        return -1


@pytest.mark.timeout(900)  # nodes restart inside the test (the cluster starts in fixtures)
async def test_one_node_of_each_cluster_dies_under_load_and_nothing_acknowledged_is_lost(
        cluster: LocalCluster, cluster_mesh: Mesh, cluster_channel) -> None:
    world = World(cluster_channel)
    auth = agrpc.AuthServiceStub(cluster_channel("auth"))
    media = mgrpc.MediaServiceStub(cluster_channel("media"))
    # Set-up, retried while the young cluster on a busy machine times out a write.
    author, *readers = await settled(lambda: world.users(4))
    await settled(lambda: world.follow(readers, author))
    first = await settled(lambda: world.post(author, "before the outage"))
    stored_media = await settled(lambda: ready_media_ids(cluster_channel("media"),
                                                         author.token, 3))
    stored = {m: await renditions(media, author.token, m, cluster_mesh) for m in stored_media}

    ledger, stop = Ledger(), asyncio.Event()
    load_started = time.monotonic()
    load = asyncio.ensure_future(write_load(world, auth, author, first.post_id, ledger, stop))
    await asyncio.sleep(LOAD_SECONDS_BEFORE)
    killed = [cluster.node("cql", 1), cluster.node("nats", 1), cluster.node("minio", 0)]
    for node in killed:
        cluster.kill(node.kind, node.index)
    outage_started = time.monotonic()
    lost = cluster.lose_drive(LOST_DRIVE)

    # While they are down: posts (of media stored before) fan out (NATS R3, timelines at
    # QUORUM), reads answer, comments and sign-ups go on.
    outage_posts = []
    for media_id in stored_media[:2]:
        request = ppb.CreatePostRequest(request_id=str(uuid.uuid4()), caption="in the outage",
                                        media_ids=[media_id])
        reply = await acknowledged(ledger, lambda r=request: world.posts.CreatePost(
            r, metadata=author.md, timeout=10))
        outage_posts.append(reply.post.post_id)
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
    outage_ended = time.monotonic()
    if load.done():  # a write failed every retry: its error
        load.result()

    revive_started = time.monotonic()
    cluster.revive(killed)
    revived_in = time.monotonic() - revive_started
    revived_at = time.monotonic()
    await asyncio.sleep(3.0)  # load goes on against the whole cluster again
    stop.set()
    await load
    load_ended = time.monotonic()

    during = ledger.acked_between(outage_started, outage_ended)
    steady = ledger.acked_between(outage_ended - STEADY_SECONDS, outage_ended)
    assert steady > 0, (f"no write acknowledged in the last {STEADY_SECONDS:.0f} s of the "
                        f"outage ({during} in all of it): the mesh stopped serving")

    # Nothing acknowledged is missing, nothing is there twice.
    listed: list[int] = []
    token = ""
    while True:
        page = await world.posts.ListComments(ppb.ListCommentsRequest(
            post_id=first.post_id, page_size=100, page_token=token), metadata=author.md)
        listed += [c.comment_id for c in page.comments]
        token = page.next_page_token
        if not token:
            break
    assert sorted(listed) == sorted(ledger.comments)
    for username, password in ledger.accounts:
        await auth.Login(apb.LoginRequest(username=username, password=password), timeout=10)
    for reader in readers:
        await eventually(lambda r=reader: world.home(r),
                         lambda page: {i.post.post_id for i in page.items} >=
                         {first.post_id, *outage_posts},
                         timeout=60, what="every post in every follower's feed")
    # Every object stored before: there, byte for byte, with a drive of four lost.
    for media_id, digests in stored.items():
        assert await renditions(media, author.token, media_id, cluster_mesh) == digests
    uploaded = await ready_media(cluster_channel("media"), author.token,
                                 jpeg_bytes(400, 300), timeout=90)
    await renditions(media, author.token, uploaded.media_id, cluster_mesh)
    healed = objects_on(lost)

    print(f"\nfailover: {ledger.calls} writes acknowledged ({len(ledger.comments)} comments, "
          f"{len(ledger.accounts)} sign-ups, {len(outage_posts)} posts) in "
          f"{load_ended - load_started:.0f} s; {during} during the {OUTAGE_SECONDS:.0f} s "
          f"outage of {', '.join(n.label for n in killed)} (+ MinIO drive {LOST_DRIVE} of "
          f"{cluster.settings.minio_drives} replaced empty), {steady} in its last "
          f"{STEADY_SECONDS:.0f} s; {ledger.first_try_ok} on the first try, "
          f"{ledger.retried} retries, slowest acknowledged write {ledger.slowest_s:.2f} s")
    print(f"failover: write p50 {ledger.p50_ms(load_started, outage_started):.1f} ms before, "
          f"{ledger.p50_ms(outage_started, outage_ended):.1f} ms during the outage, "
          f"{ledger.p50_ms(revived_at, load_ended):.1f} ms after; nodes back (healthy, ring "
          f"and JetStream settled) in {revived_in:.0f} s")
    print(f"failover: after the nodes returned: all {len(listed)} comments listed once, all "
          f"{len(ledger.accounts)} accounts log in, every post in every follower's feed, "
          f"all {len(stored)} media stored before byte-identical, a new upload READY; "
          f"{healed} object(s) healed onto the replaced drive so far")
