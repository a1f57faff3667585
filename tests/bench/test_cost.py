"""The cost benchmark's machinery, tiny, against the test mesh and edge: figures come out
(calls counted, CPU read for the mesh, the floor and the load generator apart), writes are
real new writes, and the report renders. Durations are never asserted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from bench.cost import operations
from bench.cost.mesh_processes import mesh_pids
from bench.cost.population import Population, build
from bench.cost.publish import publish
from bench.cost.runs import Runner, RunSettings
from bench.measure.backend_ops import BackendOps
from bench.measure.cpu import CpuMeter
from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh

TINY = RunSettings(concurrency=2, duration=20.0, count=24, warmup=2, idle_seconds=0.3,
                   baseline_duration=0.5)


@pytest.fixture(scope="module")
async def population(mesh: Mesh, edge: EnvoyBackend) -> Population:
    return await build(mesh, authors=2, readers=3, posts_per_author=2, spare_images=0,
                       say=lambda _: None)


@pytest.fixture(scope="module")
async def runner(mesh: Mesh, edge: EnvoyBackend, population: Population, ghz_bin: Path,
                 wrk_bin: Path) -> AsyncIterator[Runner]:
    counts = BackendOps(mesh.env, f"http://{mesh.settings.host}:"
                                  f"{mesh.settings.nats_monitor_port}")
    yield await asyncio.to_thread(
        Runner, ghz=ghz_bin, wrk=wrk_bin,
        edge_target=f"{edge.settings.host}:{edge.settings.envoy_port}",
        mesh_pids=mesh_pids(mesh, edge), population=population, settings=TINY,
        backend_ops=counts)
    counts.close()


def assert_figures(result: dict[str, Any], calls: int, busiest: str) -> None:
    """Figures came out: calls counted, CPU read (a tick is 10 ms: a few calls may leave
    a cheap process at 0, so only the whole mesh must show some), the floor measured."""
    load = result["load"]
    # wrk may count a call or two in flight when its script stopped it
    overshoot = 0 if load["tool"] == "ghz" else result["concurrency"]
    assert calls <= load["ok"] <= calls + overshoot and not load["errors"], load
    assert load["throughput_per_s"] > 0 and load["p50_ms"] > 0 and load["p99_ms"] > 0
    gross = result["gross_cpu_ms_per_op"]
    assert gross["mesh"] > 0
    assert result["cpu_ms_per_op"]["own"] == pytest.approx(sum(
        ms for name, ms in result["cpu_ms_per_op"]["processes"].items()
        if name not in ("cassandra", "redis", "nats", "minio")), abs=0.01)
    assert {"cassandra", "redis", "nats", "minio", busiest, "envoy"} <= set(gross["processes"])
    assert result["loadgen_cpu_ms_per_op"] > 0
    assert result["response_bytes"] > 0
    base = result["baseline"]
    assert base["load"]["ok"] > 0 and base["cpu_ms_per_op"] > 0
    assert result["ratios"]["throughput"] > 0 and result["ratios"]["cpu"] is not None


async def test_feed_over_grpc_gets_cpu_per_call_beside_the_floor(runner: Runner) -> None:
    result = await asyncio.to_thread(runner.run, operations.FEED_GRPC)
    assert_figures(result, TINY.count, "feed")
    assert result["load"]["tool"] == "ghz"


async def test_feed_over_rest_is_loaded_by_wrk(runner: Runner) -> None:
    result = await asyncio.to_thread(runner.run, operations.FEED_REST)
    assert_figures(result, TINY.count, "feed")
    assert result["load"]["tool"] == "wrk" and result["rest_response_bytes"] > 0


async def test_every_like_of_a_run_is_a_new_like(runner: Runner, population: Population,
                                                 channel_to: Any) -> None:
    post = pgrpc.PostServiceStub(channel_to("post"))
    reader = population.readers[0]

    async def likes() -> int:
        reply = await post.BatchGetPosts(ppb.BatchGetPostsRequest(
            post_ids=population.post_ids), metadata=reader.md)
        return sum(p.like_count for p in reply.posts)

    before = await likes()
    pool_before = population.likes.size()
    result = await asyncio.to_thread(runner.run, operations.LIKE_POST, count=8, warmup=0)
    assert_figures(result, 8, "post")
    counted = result["backend_ops_per_call"]  # exact: this run's keyspace and streams only
    assert counted["cql_writes"] > 0 and counted["nats_messages"] >= 1, counted
    # the sample call and the run's 8 calls took 9 pairs, each a new (user, post) like
    assert pool_before - population.likes.size() == 9
    for _ in range(50):
        if await likes() - before == 9:
            break
        await asyncio.sleep(0.2)
    assert await likes() - before == 9


PARENT = """
import subprocess, sys
burn = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass\\n"
wait = "import sys\\nprint(1, flush=True)\\nsys.stdin.read()\\n"
sys.stdin.readline()
alive = subprocess.Popen([sys.executable, "-c", burn + wait], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
alive.stdout.readline()
subprocess.run([sys.executable, "-c", burn])
print("done", flush=True)
sys.stdin.readline()
alive.stdin.close()
alive.wait()
"""


def test_cpu_meter_counts_live_and_exited_children() -> None:
    import subprocess
    import sys

    with subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdin is not None and parent.stdout is not None
        meter = CpuMeter({"parent": parent.pid})
        before = meter.snapshot()
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"
        used = meter.since(before).gross["parent"]
        parent.stdin.write("end\n")
        parent.stdin.flush()
    # 0.3 s in a child still running and 0.3 s in one that exited: both counted
    assert used >= 0.55, used


def test_report_renders_from_saved_results(tmp_path: Path) -> None:
    saved = Path(__file__).resolve().parents[2] / "bench" / "results" / "cost-before.json"
    written = publish(saved, saved, doc=tmp_path / "benchmarks.md")
    text = written[0].read_text()
    measured = {o["key"] for o in json.loads(saved.read_text())["operations"]}
    for op in operations.OPERATIONS:  # those the saved run measured (older runs lack newer ops)
        if op.key in measured:
            assert op.title in text
    assert [p.name for p in written[1:]] == ["cpu-per-operation.svg", "feed-latency.svg"]
    for svg in written[1:]:
        assert svg.read_text().startswith("<svg") and "</svg>" in svg.read_text()
