"""`./photomesh bench topology`: the same load on two layouts of the mesh, interleaved.

    ./photomesh bench topology --compare replicas   # 1 vs 2 processes of every service/worker
    ./photomesh bench topology --compare cluster    # single-node backends vs the cluster profile
    ./photomesh bench topology --report             # docs/benchmarks.md section and plots

Run it on a stack of its own, never on the shared backends (see docs/benchmarks.md for the
settings used): the single-node backends are those of `InfraSettings` (``PHOTOMESH_*``), the
cluster profile's those of `ClusterSettings` (``PHOTOMESH_CLUSTER_*``, started here and
stopped and deleted afterwards).

Both layouts are up at once, each a private mesh with its own edge and population
(bench/cost/population.py), and every operation runs on A, then B, round after round
(A, B, A, B ...), so what other people do on the machine meanwhile falls on both. Each run
is one of the cost benchmark's (bench/cost/runs.py): load by ghz from its own process through
the layout's edge, throughput and p50/p99 from ghz, CPU per call summed over every process of
that layout (services, workers, edge, its backends) from /proc, net of the idle rate, and the
bare grpc.aio floor. The layout not being measured idles meanwhile; its idle CPU is what the
"others" figure of each run reports.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cost import operations
from bench.cost.population import build
from bench.cost.runs import Runner, RunSettings, settings_dict

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "topology.json"
OPS = (operations.FEED_GRPC, operations.CREATE_POST, operations.LIKE_POST, operations.FOLLOW)
WRITE_WARMUP = 4


@dataclass
class Layout:
    """One side of the comparison: a private mesh, its edge, population and runner."""

    label: str
    replicas: int = 1
    cluster: bool = False
    runner: Runner | None = None
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    describe: str = ""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="photomesh bench topology",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--compare", choices=("replicas", "cluster"), default="replicas")
    p.add_argument("--rounds", type=int, default=2, help="A, B rounds per operation")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--duration", type=float, default=8.0, help="seconds per read run")
    p.add_argument("--write-count", type=int, default=40, help="calls per write run")
    p.add_argument("--idle", type=float, default=2.0)
    p.add_argument("--baseline-duration", type=float, default=3.0)
    p.add_argument("--json", type=Path, default=None,
                   help="default bench/results/topology-<compare>.json")
    p.add_argument("--report", action="store_true",
                   help="only regenerate the docs section and plots from the saved JSONs")
    args = p.parse_args(argv)
    if args.json is None:
        args.json = RESULTS.with_name(f"topology-{args.compare}.json")
    return args


def cluster_pids(cluster: Any, mesh: Any, edge: Any) -> dict[str, int]:
    """Every process of a mesh on the cluster profile: services, edge, each backend node."""
    from infra import services as mesh_services

    pids = {i.label: mesh_services.instance_process(mesh.settings, i).pid()
            for i in mesh.layout.instances}
    pids["envoy"] = edge.process.pid()
    for node in cluster.nodes:
        name = {"cql": "cassandra"}.get(node.kind, node.kind)
        pids[f"{name}-{node.index}"] = node.backend.process.pid()
    pids["redis-0"] = cluster.redis.process.pid()
    missing = [n for n, pid in pids.items() if pid is None]
    if missing:
        raise RuntimeError(f"not running: {', '.join(missing)}")
    return pids  # type: ignore[return-value]


@contextmanager
def local_cluster(settings: Any) -> Iterator[Any]:
    """The cluster profile's backends on `PHOTOMESH_CLUSTER_*`, deleted afterwards."""
    from infra.cluster import ClusterSettings, LocalCluster

    cluster = LocalCluster(ClusterSettings(), base=settings)
    if cluster.settings.run_dir.exists() and any(cluster.settings.run_dir.iterdir()):
        raise RuntimeError(f"{cluster.settings.run_dir} is in use: give the benchmark a run "
                           f"dir of its own (PHOTOMESH_CLUSTER_RUN_DIR)")
    cluster.install()
    print(f"cluster profile: starting {cluster.describe()} ...", flush=True)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.settings.run_dir, ignore_errors=True)


def open_layout(stack: ExitStack, layout: Layout, settings: Any, ghz: Path, wrk: Path,
                args: argparse.Namespace) -> None:
    import asyncio

    from bench.cost.__main__ import MESH_SETTINGS
    from bench.cost.mesh_processes import mesh_pids
    from infra.backends.envoy import private_edge
    from infra.edge import EdgeSettings
    from infra.sandbox import private_mesh

    run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(
        prefix=f"photomesh-bench-topology-{layout.label}-")))
    backend_env: dict[str, str] = {}
    cluster = None
    if layout.cluster:
        cluster = stack.enter_context(local_cluster(settings))
        backend_env = cluster.backend_env()
    mesh = stack.enter_context(private_mesh(settings, run_dir, extra=MESH_SETTINGS,
                                            replicas=layout.replicas, backend_env=backend_env))
    unlimited = 1_000_000
    limits = EdgeSettings(rate_limit_requests=unlimited, rate_limit_burst=unlimited,
                          anonymous_rate_limit_requests=unlimited,
                          anonymous_rate_limit_burst=unlimited,
                          media_rate_limit_requests=unlimited, media_rate_limit_burst=unlimited)
    edge = stack.enter_context(private_edge(settings.model_copy(update={"run_dir": run_dir}),
                                            mesh.env, limits))
    images = args.rounds * (args.write_count + WRITE_WARMUP + 1) + 16
    population = asyncio.run(build(mesh, authors=8, readers=24, posts_per_author=3,
                                   spare_images=images,
                                   say=lambda s: print(f"[{layout.label}] {s}", flush=True)))
    pids = cluster_pids(cluster, mesh, edge) if cluster else mesh_pids(mesh, edge)
    layout.runner = Runner(ghz=ghz, wrk=wrk,
                           edge_target=f"{edge.settings.host}:{edge.settings.envoy_port}",
                           mesh_pids=pids, population=population,
                           settings=RunSettings(concurrency=args.concurrency,
                                                duration=args.duration, count=5000,
                                                warmup=20, idle_seconds=args.idle,
                                                baseline_duration=args.baseline_duration))
    layout.describe = (f"{layout.replicas} process(es) of every service and worker; "
                       + (cluster.describe() if cluster else "single-node backends")
                       + f"; {len(pids)} processes measured")


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def summarise(layout: Layout) -> dict[str, Any]:
    out = {}
    for key, runs in layout.runs.items():
        out[key] = {
            "runs": len(runs),
            "throughput_per_s": spread([r["load"]["throughput_per_s"] for r in runs]),
            "p50_ms": spread([r["load"]["p50_ms"] for r in runs]),
            "p99_ms": spread([r["load"]["p99_ms"] for r in runs]),
            "cpu_ms_per_op": spread([r["cpu_ms_per_op"]["mesh"] for r in runs]),
            "floor_cpu_ms_per_op": spread([r["baseline"]["cpu_ms_per_op"] for r in runs]),
            "errors": sum(r["load"].get("errors") and sum(r["load"]["errors"].values()) or 0
                          for r in runs),
            "noisy_runs": sum(1 for r in runs if r["background"]["noisy"]),
        }
    return out


def table(results: dict[str, Any]) -> str:
    a, b = results["layouts"]
    lines = ["| operation | layout | throughput/s (min-max) | p50 ms | p99 ms | "
             "mesh CPU ms/call | floor CPU ms/call |", "|---|---|--:|--:|--:|--:|--:|"]

    def cell(s: dict[str, float]) -> str:
        return f"{s['median']:g} ({s['min']:g}-{s['max']:g})"

    for op in OPS:
        for layout in (a, b):
            s = layout["summary"].get(op.key)
            if not s:
                continue
            lines.append(f"| {op.title} | {layout['label']} | {cell(s['throughput_per_s'])} | "
                         f"{cell(s['p50_ms'])} | {cell(s['p99_ms'])} | "
                         f"{cell(s['cpu_ms_per_op'])} | {s['floor_cpu_ms_per_op']['median']:g} |")
    return "\n".join(lines)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from bench.cost.__main__ import commit, machine
    from bench.measure.cpu import load_average
    from infra.install import ensure_ghz, ensure_wrk
    from infra.settings import InfraSettings

    settings = InfraSettings()
    ghz, wrk = ensure_ghz(settings), ensure_wrk()
    if args.compare == "replicas":
        layouts = [Layout("1 replica"), Layout("2 replicas", replicas=2)]
    else:
        layouts = [Layout("single node"), Layout("cluster profile", cluster=True)]
    results: dict[str, Any] = {
        "benchmark": "topology", "compare": args.compare,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(), "git": commit(),
        "command": "./photomesh bench topology " + shlex.join(sys.argv[1:]),
        "start_load_average": load_average()}
    with ExitStack() as stack:
        for layout in layouts:
            open_layout(stack, layout, settings, ghz, wrk, args)
            print(f"[{layout.label}] {layout.describe}", flush=True)
        results["settings"] = settings_dict(layouts[0].runner.settings)  # type: ignore[union-attr]
        for round_ in range(args.rounds):
            for op in OPS:
                for layout in layouts:
                    runner = layout.runner
                    assert runner is not None
                    print(f"-- round {round_ + 1}: {op.title} on {layout.label} ...", flush=True)
                    if op.writes:
                        figures = runner.run(op, count=args.write_count, warmup=WRITE_WARMUP)
                    else:
                        figures = runner.run(op)
                    layout.runs.setdefault(op.key, []).append(figures)
                    load = figures["load"]
                    print(f"   {load['throughput_per_s']}/s, p50 {load['p50_ms']} ms, "
                          f"p99 {load['p99_ms']} ms, mesh CPU "
                          f"{figures['cpu_ms_per_op']['mesh']} ms/call "  # type: ignore[index]
                          f"(floor {figures['baseline']['cpu_ms_per_op']})"  # type: ignore[index]
                          + (f"; noisy: {'; '.join(figures['background']['noisy'])}"  # type: ignore[index]
                             if figures["background"]["noisy"] else ""), flush=True)  # type: ignore[index]
        results["layouts"] = [{"label": x.label, "replicas": x.replicas, "cluster": x.cluster,
                               "describe": x.describe, "summary": summarise(x), "runs": x.runs}
                              for x in layouts]
        results["end_load_average"] = load_average()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"saved {args.json}; stopping both layouts ...", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.report:
        from bench.topology.publish import publish

        print("wrote " + ", ".join(str(p) for p in publish()))
        return
    results = measure(args)
    print("\n" + table(results))


if __name__ == "__main__":
    main()
