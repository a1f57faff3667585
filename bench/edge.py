"""The edge's added latency per call: the same unary RPC through Envoy and directly to the
service, in the same run, on a private mesh and a private edge.

Two RPCs, each measured direct and through the edge:

* ``GetPublicKeys`` (auth): public, no token; the edge only routes it.
* ``GetMedia`` (media) with a user's access token: the edge verifies the JWT (EdDSA),
  counts the user's rate limit and routes; the service verifies the token again and
  answers (NOT_FOUND for an unknown id, or UNIMPLEMENTED until the media service lands:
  either way a full round trip through its interceptors, counted as a success).

    ./photomesh bench edge [--duration 5] [--concurrency 1 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from bench.harness import Result, run_load, save_json, table
from infra.backends.envoy import private_edge
from infra.edge import EdgeSettings
from infra.sandbox import Mesh, private_mesh
from infra.settings import InfraSettings

ANSWERED = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED)
#: Limits out of the way: the benchmark measures latency, not the limiter's verdicts.
BENCH_EDGE = EdgeSettings(rate_limit_requests=1_000_000, rate_limit_burst=1_000_000,
                          anonymous_rate_limit_requests=1_000_000,
                          anonymous_rate_limit_burst=1_000_000,
                          media_rate_limit_requests=1_000_000, media_rate_limit_burst=1_000_000)


def _operations(channel: aio.Channel, token: str
                ) -> dict[str, Callable[[int], Awaitable[object]]]:
    auth = auth_grpc.AuthServiceStub(channel)
    media = media_grpc.MediaServiceStub(channel)
    metadata = (("authorization", f"Bearer {token}"),)
    media_id = str(uuid.uuid4())

    async def public_keys(_: int) -> object:
        return await auth.GetPublicKeys(auth_pb.GetPublicKeysRequest(), timeout=5)

    async def get_media(_: int) -> object:
        try:
            return await media.GetMedia(media_pb.GetMediaRequest(media_id=media_id),
                                        metadata=metadata, timeout=5)
        except aio.AioRpcError as e:
            if e.code() in ANSWERED:
                return e
            raise

    return {"GetPublicKeys": public_keys, "GetMedia (JWT)": get_media}


async def _token(mesh: Mesh) -> str:
    async with aio.insecure_channel(mesh.target("auth")) as channel:
        reply = await auth_grpc.AuthServiceStub(channel).Register(auth_pb.RegisterRequest(
            request_id=str(uuid.uuid4()), username=f"bench_{uuid.uuid4().hex[:12]}",
            password="correct horse battery", display_name="Bench"))
    return reply.tokens.access_token


async def measure(mesh: Mesh, edge_target: str, duration: float,
                  concurrencies: list[int]) -> tuple[list[Result], list[dict[str, object]]]:
    token = await _token(mesh)
    results: list[Result] = []
    figures: list[dict[str, object]] = []
    direct = {"GetPublicKeys": aio.insecure_channel(mesh.target("auth")),
              "GetMedia (JWT)": aio.insecure_channel(mesh.target("media"))}
    through = aio.insecure_channel(edge_target)
    try:
        for concurrency in concurrencies:
            for name in ("GetPublicKeys", "GetMedia (JWT)"):
                direct_op = _operations(direct[name], token)[name]
                edge_op = _operations(through, token)[name]
                # Alternate halves so drift on a shared machine hits both sides alike.
                parts: dict[str, list[Result]] = {"direct": [], "edge": []}
                for _ in range(2):
                    parts["direct"].append(await run_load(
                        name, direct_op, concurrency=concurrency, duration=duration / 2))
                    parts["edge"].append(await run_load(
                        name, edge_op, concurrency=concurrency, duration=duration / 2))
                pair = {}
                for side, runs in parts.items():
                    merged = Result(f"{name} {side} c={concurrency}")
                    for run in runs:
                        merged.latencies += run.latencies
                        merged.errors += run.errors
                        merged.elapsed += run.elapsed
                    results.append(merged)
                    pair[side] = merged
                figures.append({
                    "rpc": name, "concurrency": concurrency,
                    "added_p50_ms": round(pair["edge"].ms(50) - pair["direct"].ms(50), 3),
                    "added_p99_ms": round(pair["edge"].ms(99) - pair["direct"].ms(99), 3),
                    "p50_ratio": round(pair["edge"].ms(50) / pair["direct"].ms(50), 2),
                    "p99_ratio": round(pair["edge"].ms(99) / pair["direct"].ms(99), 2),
                })
    finally:
        for channel in (*direct.values(), through):
            await channel.close()
    return results, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=6.0,
                        help="seconds per RPC, side and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    settings = InfraSettings()
    with tempfile.TemporaryDirectory(prefix="photomesh-bench-edge-") as tmp:
        run_dir = Path(tmp)
        with private_mesh(settings, run_dir) as mesh, \
                private_edge(settings.model_copy(update={"run_dir": run_dir}), mesh.env,
                             BENCH_EDGE) as envoy:
            target = f"{envoy.settings.host}:{envoy.settings.envoy_port}"
            results, figures = asyncio.run(
                measure(mesh, target, args.duration, args.concurrency))
    print(table(results, "edge (Envoy) vs direct gRPC, same run"))
    print()
    for f in figures:
        print(f"{f['rpc']:<16} c={f['concurrency']:<3} added p50 {f['added_p50_ms']:+.3f} ms "
              f"(x{f['p50_ratio']}), added p99 {f['added_p99_ms']:+.3f} ms "
              f"(x{f['p99_ratio']})")
    if args.json:
        save_json(args.json, results, figures=figures)


if __name__ == "__main__":
    main()
