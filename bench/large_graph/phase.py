"""One phase of the large-graph benchmark: on the graph now in the store, posts by
normal authors (their fan-out lag), posts by the celebrities (merged at read time), then
home-feed reads by plain readers and by readers who follow every celebrity.

The people are the graph's own (bench/large_graph/java/GraphSSTables.java picks them and
makes every reader follow every lag author): their access tokens are signed here with the
private mesh's key, as the auth service would sign them (bulk users have no passwords).

* **Fan-out lag**: CreatePost sent, until the fan-out worker has written a timeline row
  for every follower (its ``photomesh_fanout_rows_total``, so /metrics is on in this
  benchmark's mesh). One post at a time, `posts` rounds over the authors.
* **Celebrity posts**: CreatePost sent, until the post is on a merge reader's first page.
* **Reads**: the cost benchmark's run (bench/cost/runs.py): ghz through the edge, CPU of
  every mesh process from /proc, the bare grpc.aio floor beside.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from bench.cost import operations
from bench.cost.mesh_processes import mesh_pids
from bench.cost.population import Account, Pool, Population
from bench.cost.runs import Runner, RunSettings

FANOUT_TIMEOUT = 120.0
RETRIES = 6  # calls answered UNAVAILABLE (a busy machine, a node just restarted)
T = TypeVar("T")
QUIET = 3.0  # seconds without a new row: the fan-out of a post is taken as finished


def user_id(seed: int, index: int) -> str:
    """GraphSSTables.id(): the same version-4 UUID for (seed, index)."""
    msb = (0x5CA1E000 << 32) | ((seed & 0xFFFF) << 16) | 0x4000
    lsb = 0x8000000000000000 | index
    return str(uuid.UUID(int=(msb << 64) | lsb))


def accounts(run_dir: Path, manifest: dict[str, Any], indexes: list[int]) -> dict[int, Account]:
    from services.auth.tokens import TokenIssuer

    issuer = TokenIssuer((run_dir / "keys" / "jwt_private.pem").read_bytes(),
                         "photomesh-auth", "photomesh", 6 * 3600)
    seed, prefix = int(manifest["seed"]), manifest["prefix"]
    return {i: Account(user_id(seed, i), issuer.issue(user_id(seed, i), f"{prefix}{i}").token)
            for i in indexes}


def fanout_rows(url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "photomesh_fanout_rows_total")


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """`call` again with backoff while it is answered UNAVAILABLE (it must be idempotent)."""
    import grpc
    from grpc import aio

    for attempt in range(RETRIES):
        try:
            return await call()
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRIES - 1:
                raise
            await asyncio.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


class Calls:
    def __init__(self, mesh: Any) -> None:
        from grpc import aio
        from photomesh.feed.v1 import feed_service_pb2_grpc as fgrpc
        from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

        self.media_channel = aio.insecure_channel(mesh.target("media"))
        self.channels = [self.media_channel, aio.insecure_channel(mesh.target("feed")),
                         aio.insecure_channel(mesh.target("post"))]
        self.feed = fgrpc.FeedServiceStub(self.channels[1])
        self.post = pgrpc.PostServiceStub(self.channels[2])

    async def image(self, who: Account, k: int) -> str:
        from tests.media_support import jpeg_bytes, ready_media

        image = jpeg_bytes(320, 240, gps=False, quality=70 + k % 20)
        media = await _retrying(lambda: ready_media(self.media_channel, who.token, image))
        return str(media.media_id)

    async def create_post(self, who: Account, media_id: str) -> int:
        from photomesh.post.v1 import post_service_pb2 as ppb

        request = ppb.CreatePostRequest(request_id=str(uuid.uuid4()),  # retries: the same
                                        caption="large graph #photomesh", media_ids=[media_id])
        reply = await _retrying(lambda: self.post.CreatePost(request, metadata=who.md,
                                                             timeout=60))
        return int(reply.post.post_id)

    async def home_ids(self, who: Account) -> list[int]:
        from photomesh.feed.v1 import feed_service_pb2 as fpb

        page = await _retrying(lambda: self.feed.GetHomeFeed(
            fpb.GetHomeFeedRequest(page_size=20), metadata=who.md, timeout=60))
        return [int(item.post.post_id) for item in page.items]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


async def _fanout_lag(calls: Calls, url: str, who: Account, media_id: str,
                      followers: int) -> dict[str, Any]:
    before = await asyncio.to_thread(fanout_rows, url)
    t0 = time.perf_counter()
    await calls.create_post(who, media_id)
    rows, changed = before, t0
    while True:
        now_rows = await asyncio.to_thread(fanout_rows, url)
        now = time.perf_counter()
        if now_rows != rows:
            rows, changed = now_rows, now
        if rows - before >= followers:
            break
        if (rows > before and now - changed > QUIET) or now - t0 > FANOUT_TIMEOUT:
            break
        await asyncio.sleep(0.01)
    return {"followers": followers, "rows": int(rows - before),
            "seconds": round(changed - t0, 4)}


async def _posts(mesh: Any, manifest: dict[str, Any], people: dict[int, Account], posts: int,
                 say: Callable[[str], None]) -> dict[str, Any]:
    calls = Calls(mesh)
    try:
        authors = [(a["index"], a["followers"]) for a in manifest["lag_authors"]]
        stars = [(c["index"], c["followers"]) for c in manifest["celebrities"]]
        jobs = [(i, k) for k in range(posts) for i, _ in authors] + \
               [(i, k) for k in range(2) for i, _ in stars]
        gate = asyncio.Semaphore(8)

        async def one(i: int, k: int) -> str:
            async with gate:
                return await calls.image(people[i], k)
        images = dict(zip(jobs, await asyncio.gather(*(one(i, k) for i, k in jobs)),
                          strict=True))
        url = mesh.metrics_url("feed_fanout")
        lags: dict[int, list[dict[str, Any]]] = {i: [] for i, _ in authors}
        for k in range(posts):
            for i, followers in authors:
                lags[i].append(await _fanout_lag(calls, url, people[i], images[(i, k)],
                                                 followers))
        fanout = [{"author": i, "followers": followers,
                   "p50_ms": round(statistics.median(x["seconds"] for x in lags[i]) * 1e3, 1),
                   "max_ms": round(max(x["seconds"] for x in lags[i]) * 1e3, 1),
                   "rows_per_post": statistics.median(x["rows"] for x in lags[i]),
                   "posts": lags[i]} for i, followers in authors]
        for f in fanout:
            say(f"  fan-out lag, {f['followers']:,} followers: p50 {f['p50_ms']} ms, max "
                f"{f['max_ms']} ms ({f['rows_per_post']:g} rows a post)")
        watcher = people[manifest["merge_readers"][0]]
        celebrity_posts = []
        for k in range(2):
            for i, followers in stars:
                t0 = time.perf_counter()
                post_id = await calls.create_post(people[i], images[(i, k)])
                created = time.perf_counter() - t0
                while post_id not in await calls.home_ids(watcher):
                    if time.perf_counter() - t0 > FANOUT_TIMEOUT:
                        raise RuntimeError(f"a celebrity's post not seen in {FANOUT_TIMEOUT} s")
                    await asyncio.sleep(0.05)
                celebrity_posts.append({"author": i, "followers": followers,
                                        "create_ms": round(created * 1e3, 1),
                                        "visible_ms": round((time.perf_counter() - t0) * 1e3,
                                                            1)})
        say("  celebrity posts (create ms / on a merge reader's page ms): "
            + ", ".join(f"{c['create_ms']:.0f}/{c['visible_ms']:.0f}" for c in celebrity_posts))
        return {"fanout_lag": fanout, "celebrity_posts": celebrity_posts}
    finally:
        await calls.close()


def _population(readers: list[Account]) -> Population:
    return Population([], readers, {}, Pool({}), Pool({}), Pool({}))


def _items(response: bytes) -> int:
    from photomesh.feed.v1 import feed_service_pb2 as fpb

    return len(fpb.GetHomeFeedResponse.FromString(response).items)


def run(name: str, manifest: dict[str, Any], mesh: Any, edge: Any, ghz: Path, wrk: Path,
        reads: RunSettings, posts: int, say: Callable[[str], None] = print) -> dict[str, Any]:
    plain, merge = manifest["plain_readers"], manifest["merge_readers"]
    indexes = [a["index"] for a in manifest["lag_authors"]] + \
        [c["index"] for c in manifest["celebrities"]] + plain + merge
    people = accounts(Path(mesh.settings.run_dir), manifest, indexes)
    say(f"[{name}] posts: {len(manifest['lag_authors'])} authors x {posts}, "
        f"{len(manifest['celebrities'])} celebrities x 2")
    result: dict[str, Any] = {"phase": name, "graph": {
        k: manifest[k] for k in ("graph", "users", "follows", "celebrities", "lag_authors",
                                 "max_non_celebrity_followers")}}
    result.update(asyncio.run(_posts(mesh, manifest, people, posts, say)))
    pids = mesh_pids(mesh, edge)
    edge_target = f"{edge.settings.host}:{edge.settings.envoy_port}"
    for kind, who in (("plain", plain), ("celebrity_merge", merge)):
        runner = Runner(ghz=ghz, wrk=wrk, edge_target=edge_target, mesh_pids=pids,
                        population=_population([people[i] for i in who]), settings=reads)
        figures = runner.run(operations.FEED_GRPC)
        figures["items_per_page"] = _items(runner.samples[operations.FEED_GRPC.key])
        result[f"reads_{kind}"] = figures
        load = figures["load"]
        say(f"[{name}] {kind} reads: {load['throughput_per_s']}/s, p50 {load['p50_ms']:.1f} ms, "
            f"p99 {load['p99_ms']:.1f} ms, mesh CPU {figures['cpu_ms_per_op']['mesh']} ms/read "
            f"(floor {figures['baseline']['cpu_ms_per_op']}), "
            f"{figures['items_per_page']} items a page")
    return result


__all__ = ["run", "user_id"]
