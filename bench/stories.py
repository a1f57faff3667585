"""Stories and notifications benchmark on a private mesh.

    ./photomesh bench stories [--authors 200] [--duration 10] [--concurrency 8] [--events 200]

1. Story tray: one viewer follows `--authors` accounts, each with two live stories (one
   seen). GetStoryTray (first page, 20 authors) closed-loop for `--duration` seconds at
   `--concurrency`: throughput, p50/p99. Baseline in the same run: the same call with the
   Redis tray state dropped before each call (every author set and the seen set rebuilt
   from CQL), printed as a ratio; and the graph's ListFollowingIds alone (the first step
   of every tray read).
2. Notification delivery lag: PostLikedEvent published on JetStream (acknowledged) → the
   notification written to the recipient's inbox and pushed on StreamNotifications (the
   worker publishes after the inbox write). `--events` one at a time (lag alone), then a
   burst of as many at once (lag under load, and delivered/s).

Figures are printed and saved in bench/results/stories.json.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import redis.asyncio as aioredis
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as apb
from photomesh.auth.v1 import auth_service_pb2_grpc as agrpc
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.notification.v1 import notification_service_pb2 as npb
from photomesh.notification.v1 import notification_service_pb2_grpc as ngrpc
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import story_service_pb2 as spb
from photomesh.story.v1 import story_service_pb2_grpc as sgrpc

from bench.harness import Result, ratio, run_load, save_json, table
from infra.sandbox import private_mesh
from infra.settings import InfraSettings
from services.runtime.events import EventBus
from services.runtime.settings import NatsSettings

RESULTS = Path(__file__).resolve().parent / "results"
MESH_SETTINGS = {  # fast sign-up for setup only; every other setting is the default
    "PHOTOMESH_AUTH_ARGON2_TIME_COST": "1",
    "PHOTOMESH_AUTH_ARGON2_MEMORY_KIB": "8192",
}


def md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def bounded(calls, limit: int = 16) -> list:  # type: ignore[no-untyped-def]
    """Run the setup `calls` (each a function making a coroutine), `limit` at a time;
    a call answered UNAVAILABLE (a busy shared machine) is retried with backoff."""
    gate = asyncio.Semaphore(limit)

    async def one(call):  # type: ignore[no-untyped-def]
        async with gate:
            for attempt in range(6):
                try:
                    return await call()
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 5:
                        raise
                    await asyncio.sleep(0.5 * 2 ** attempt)
    return list(await asyncio.gather(*(one(c) for c in calls)))


async def register(auth: agrpc.AuthServiceStub, n: int) -> list[tuple[str, str]]:
    async def one(request: apb.RegisterRequest) -> tuple[str, str]:
        reply = await auth.Register(request)
        return reply.user_id, reply.tokens.access_token
    requests = [apb.RegisterRequest(request_id=str(uuid.uuid4()), password="benchmark pw 1",
                                    username=f"s{i}_{uuid.uuid4().hex[:8]}") for i in range(n)]
    return await bounded(lambda r=r: one(r) for r in requests)


async def tray_figures(mesh, args) -> list[Result]:  # type: ignore[no-untyped-def]
    channels = {n: aio.insecure_channel(mesh.target(n)) for n in ("auth", "graph", "story")}
    auth = agrpc.AuthServiceStub(channels["auth"])
    graph = ggrpc.SocialGraphServiceStub(channels["graph"])
    stories = sgrpc.StoryServiceStub(channels["story"])
    print(f"setup: {args.authors} authors with 2 stories each, one viewer following them")
    (viewer_id, viewer), *authors = await register(auth, args.authors + 1)
    await bounded(lambda a=a: graph.Follow(gpb.FollowRequest(user_id=a), metadata=md(viewer))
                  for a, _ in authors)
    creates = [(spb.CreateStoryRequest(request_id=str(uuid.uuid4()), text=f"story {i}"), token)
               for _, token in authors for i in range(2)]  # request ids make retries safe
    made = await bounded(lambda r=r, t=t: stories.CreateStory(r, metadata=md(t))
                         for r, t in creates)
    await bounded(lambda s=reply.story.story_id: stories.MarkStorySeen(
        spb.MarkStorySeenRequest(story_id=s), metadata=md(viewer)) for reply in made[::2])

    async def read(_: int) -> None:
        reply = await stories.GetStoryTray(spb.GetStoryTrayRequest(page_size=20),
                                           metadata=md(viewer))
        assert len(reply.entries) == 20

    warm = await run_load(f"GetStoryTray, {args.authors} followees", read,
                          concurrency=args.concurrency, duration=args.duration)

    async def followees(_: int) -> None:  # the graph call every tray read starts with
        await graph.ListFollowingIds(gpb.ListFollowingIdsRequest(user_id=viewer_id),
                                     metadata=md(viewer))

    graph_part = await run_load("  part: graph ListFollowingIds", followees,
                                concurrency=args.concurrency, duration=args.duration / 2)
    prefix = mesh.env["PHOTOMESH_REDIS_KEY_PREFIX"] + "story:"
    redis = aioredis.Redis.from_url(mesh.env["PHOTOMESH_REDIS_URL"])
    keys = [f"{prefix}author:{a}" for a, _ in authors] + [f"{prefix}seen:{viewer_id}"]

    async def read_cold(i: int) -> None:
        await redis.delete(*keys)
        await read(i)

    cold = await run_load("  baseline: cold (rebuilt from CQL)", read_cold, concurrency=1,
                          count=args.cold_reads, duration=None, warmup=2)
    await redis.aclose()
    for channel in channels.values():
        await channel.close()
    return [warm, cold, graph_part]


async def lag_figures(mesh, args) -> list[Result]:  # type: ignore[no-untyped-def]
    channels = {n: aio.insecure_channel(mesh.target(n)) for n in ("auth", "notification")}
    (recipient, token), = await register(agrpc.AuthServiceStub(channels["auth"]), 1)
    notifications = ngrpc.NotificationServiceStub(channels["notification"])
    bus = await EventBus.connect(NatsSettings(
        url=mesh.env["PHOTOMESH_NATS_URL"],
        stream_prefix=mesh.env["PHOTOMESH_NATS_STREAM_PREFIX"],
        subject_prefix=mesh.env["PHOTOMESH_NATS_SUBJECT_PREFIX"]), "bench")
    await bus.ensure_stream("post")
    sent: dict[int, float] = {}
    arrived: dict[int, float] = {}
    waiters: dict[int, asyncio.Event] = {}
    call = notifications.StreamNotifications(npb.StreamNotificationsRequest(),
                                             metadata=md(token))

    async def listen() -> None:
        async for message in call:
            post_id = message.notification.post_id
            arrived.setdefault(post_id, time.perf_counter())
            if post_id in waiters:
                waiters[post_id].set()

    listener = asyncio.create_task(listen())
    next_post = iter(range(1, 10**9))

    async def like() -> int:
        post_id = next(next_post)
        waiters[post_id] = asyncio.Event()
        event_id = str(uuid.uuid4())
        sent[post_id] = time.perf_counter()
        await bus.publish("post", "liked", post_events.PostLikedEvent(
            event_id=event_id, post_id=post_id, post_author_user_id=recipient,
            liker_user_id=str(uuid.uuid4())), msg_id=event_id)
        return post_id

    async def one(_: int) -> None:
        post_id = await like()
        await asyncio.wait_for(waiters[post_id].wait(), 30)

    for _ in range(50):  # the stream registers; the consumers are warm
        try:
            await one(0)
            break
        except TimeoutError:
            continue
    sequential = await run_load("delivery lag, one event at a time", one, concurrency=1,
                                count=args.events, duration=None, warmup=5)
    burst_ids = []
    t0 = time.perf_counter()
    for _ in range(args.events):
        burst_ids.append(await like())
    await asyncio.wait_for(asyncio.gather(*(waiters[p].wait() for p in burst_ids)), 120)
    burst = Result(f"delivery lag, burst of {args.events}",
                   [arrived[p] - sent[p] for p in burst_ids],
                   elapsed=max(arrived[p] for p in burst_ids) - t0)
    call.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    await bus.close()
    for channel in channels.values():
        await channel.close()
    return [sequential, burst]


async def measure(mesh, args) -> tuple[list[Result], list[Result]]:  # type: ignore[no-untyped-def]
    return await tray_figures(mesh, args), await lag_figures(mesh, args)


def main(args: argparse.Namespace) -> None:
    # private_mesh is synchronous (it cleans up with its own event loop): run ours inside.
    with tempfile.TemporaryDirectory(prefix="pm-bench-stories-") as run_dir, \
            private_mesh(InfraSettings(), Path(run_dir), extra=MESH_SETTINGS) as mesh:
        trays, lags = asyncio.run(measure(mesh, args))
    print()
    print(table(trays, "Story tray (first page of 20 authors)"))
    print(ratio(trays[0].throughput, trays[1].throughput, "warm tray reads/s vs cold"))
    print()
    print(table(lags, "Notification delivery: event published -> inbox written and pushed"))
    print(f"burst delivered/s: {lags[1].throughput:.1f}")
    save_json(RESULTS / "stories.json", [*trays, *lags], authors=args.authors)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", type=int, default=200)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cold-reads", type=int, default=30)
    parser.add_argument("--events", type=int, default=200)
    main(parser.parse_args())
