"""Social benchmark: create-post, get-posts (BatchGetPosts of 20), like and follow on a
private mesh, each next to a bare grpc.aio echo call carrying the same request and response
sizes, measured in the same run (the ratio is the cost of the mesh over raw gRPC), and the
mesh's CPU per operation (bench/cpu.py: every service process and the backends, from /proc).

    ./photomesh bench social [--duration 8] [--concurrency 8] [--creates 80] [--users 16]
                             [--ops create-post,get-posts,like,follow]

Likes and follows take distinct (post, user) and (user, user) pairs until there are no more
(`--creates` x (`--users` - 1) likes, `--users` x (`--users` - 1) follows); the calls after
that repeat earlier ones, and their number is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import uuid
from pathlib import Path

import grpc
from grpc import aio
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from bench.cpu import CpuMeter
from bench.harness import Result, ratio, run_load, save_json, table
from infra.sandbox import Mesh, free_port, private_mesh
from infra.settings import InfraSettings
from tests.graph_support import Users
from tests.media_support import ready_media

ECHO = "/bench.Echo/Call"
MESH_SETTINGS = {  # fast sign-up for setup only; every other setting is the default
    "PHOTOMESH_AUTH_ARGON2_TIME_COST": "1",
    "PHOTOMESH_AUTH_ARGON2_MEMORY_KIB": "8192",
}
SETTLE_SECONDS = 1.5  # event consumers finish what the measured calls triggered


async def _echo_server() -> tuple[aio.Server, int]:
    """A bare grpc.aio server answering raw bytes of the size the request asks for."""
    async def call(request: bytes, context: aio.ServicerContext) -> bytes:
        size = int.from_bytes(request[:4], "big")
        return b"x" * size

    handler = grpc.method_handlers_generic_handler("bench.Echo", {
        "Call": grpc.unary_unary_rpc_method_handler(call)})
    server = aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    await server.start()
    return server, port


def _payload(request_size: int, response_size: int) -> bytes:
    return response_size.to_bytes(4, "big") + b"r" * max(0, request_size - 4)


async def measure(mesh: Mesh, duration: float, concurrency: int, creates: int,
                  n_users: int = 16, ops: tuple[str, ...] = ("create-post", "get-posts", "like",
                                                             "follow"),
                  ) -> list[tuple[Result, Result]]:
    auth, graph_ch, post_ch, media_ch = (aio.insecure_channel(mesh.target(n))
                                         for n in ("auth", "graph", "post", "media"))
    post, graph = pb_grpc.PostServiceStub(post_ch), ggrpc.SocialGraphServiceStub(graph_ch)
    users = await Users.register(auth, n_users, "bench")
    likers = n_users - 1
    author = users[0]
    warmup = 4
    print(f"preparing {creates + warmup} READY media items ...", flush=True)
    sem = asyncio.Semaphore(8)

    async def one_media() -> str:
        async with sem:
            return (await ready_media(media_ch, author.token)).media_id

    media = list(await asyncio.gather(*(one_media() for _ in range(creates + warmup))))
    media_iter = iter(media)
    created: list[int] = []
    last_sizes: dict[str, tuple[int, int]] = {}

    async def create_post(i: int) -> None:
        request = pb.CreatePostRequest(request_id=str(uuid.uuid4()),
                                       caption=f"bench #{i % 7} #photomesh",
                                       media_ids=[next(media_iter)])
        reply = await post.CreatePost(request, metadata=author.md)
        created.append(reply.post.post_id)
        last_sizes["create-post"] = (request.ByteSize(), reply.ByteSize())

    async def get_posts(i: int) -> None:
        ids = [created[(i + k) % len(created)] for k in range(20)]
        request = pb.BatchGetPostsRequest(post_ids=ids)
        reply = await post.BatchGetPosts(request, metadata=users[1 + i % likers].md)
        last_sizes["get-posts"] = (request.ByteSize(), reply.ByteSize())

    likes, follows = itertools.count(), itertools.count()

    async def like(i: int) -> None:
        n = next(likes)
        request = pb.LikePostRequest(post_id=created[(n // likers) % len(created)])
        reply = await post.LikePost(request, metadata=users[1 + n % likers].md)
        last_sizes["like"] = (request.ByteSize(), reply.ByteSize())

    async def follow(i: int) -> None:
        n = next(follows)
        who = users[n % n_users]
        whom = users[(n % n_users + 1 + (n // n_users) % (n_users - 1)) % n_users]
        request = gpb.FollowRequest(user_id=whom.user_id)
        reply = await graph.Follow(request, metadata=who.md)
        last_sizes["follow"] = (request.ByteSize(), reply.ByteSize())

    server, port = await _echo_server()
    echo_ch = aio.insecure_channel(f"127.0.0.1:{port}")
    echo = echo_ch.unary_unary(ECHO)
    results = []
    meter = CpuMeter.of(mesh)
    try:
        for name, op, kwargs in (
                ("create-post", create_post, {"count": creates, "duration": None,
                                              "warmup": warmup}),
                ("get-posts (batch of 20)", get_posts, {"duration": duration}),
                ("like", like, {"duration": duration}),
                ("follow", follow, {"duration": duration})):
            key = name.split(" ")[0]
            if key not in ops and key != "create-post":  # the others need its posts
                continue
            made = 0

            async def counted(i: int, op=op) -> None:  # type: ignore[no-untyped-def]
                nonlocal made
                made += 1
                await op(i)

            background = await meter.background()
            before = meter.sample()
            measured = await run_load(name, counted, concurrency=concurrency, **kwargs)
            await asyncio.sleep(SETTLE_SECONDS)
            print(meter.report(before, meter.sample(), made, name, background), flush=True)
            if key in ("like", "follow"):
                distinct = (len(created) if key == "like" else n_users) * likers
                print(f"{key}: {made} calls, {max(0, made - distinct)} of them repeats "
                      f"({distinct} distinct pairs)", flush=True)
            request_size, response_size = last_sizes[key]
            body = _payload(request_size, response_size)

            async def bare(i: int, body: bytes = body) -> None:
                await echo(body)

            baseline = await run_load(f"bare grpc.aio ({request_size}B/{response_size}B)",
                                      bare, concurrency=concurrency,
                                      duration=min(duration, 5.0))
            results.append((measured, baseline))
            print(table([measured, baseline]), flush=True)
    finally:
        await echo_ch.close()
        await server.stop(0)
        for channel in (auth, graph_ch, post_ch, media_ch):
            await channel.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--creates", type=int, default=80)
    parser.add_argument("--users", type=int, default=16,
                        help="users who like and follow (distinct pairs: see above)")
    parser.add_argument("--ops", default="create-post,get-posts,like,follow",
                        type=lambda s: tuple(s.split(",")))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    # The private mesh is entered outside the event loop (its clean-up runs its own loop).
    with tempfile.TemporaryDirectory() as run_dir, \
            private_mesh(InfraSettings(), Path(run_dir), extra=MESH_SETTINGS) as mesh:
        pairs = asyncio.run(measure(mesh, args.duration, args.concurrency, args.creates,
                                    args.users, args.ops))
    flat = [r for pair in pairs for r in pair]
    print()
    print(table(flat, f"social benchmark (concurrency {args.concurrency})"))
    print()
    for measured, baseline in pairs:
        print(ratio(measured.throughput, baseline.throughput, f"{measured.name} ops/s"))
        print(ratio(measured.ms(50), baseline.ms(50), f"{measured.name} p50 ms"))
    if args.json:
        save_json(args.json, flat)


if __name__ == "__main__":
    main()
