"""`./photomesh bench cost`: CPU per operation beside the bare floor (issue 10).

    ./photomesh bench cost                      # the full run (about 8 minutes), then
    ./photomesh bench cost --report             # docs/benchmarks.md and its plots, from the JSON
    ./photomesh bench cost --tiny               # the machinery end to end in a minute
    ./photomesh bench cost --ops feed_grpc,get_post --duration 5 --levels '' --no-tracing

See bench/cost/__init__.py for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.cost import operations, tables
from bench.cost.mesh_processes import mesh_pids, restart_services
from bench.cost.population import build
from bench.cost.runs import Runner, RunSettings, settings_dict
from bench.measure import cpu
from bench.measure.backend_ops import BackendOps

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
DEFAULT_JSON = RESULTS / "cost.json"
BEFORE_JSON = RESULTS / "cost-before.json"
#: Setup only (fast sign-up, tokens that outlive the run); every measured path is default.
MESH_SETTINGS = {
    "PHOTOMESH_AUTH_ARGON2_TIME_COST": "1",
    "PHOTOMESH_AUTH_ARGON2_MEMORY_KIB": "8192",
    "PHOTOMESH_AUTH_ACCESS_TOKEN_TTL_SECONDS": "14400",
}
#: Calls of the writes whose every call needs a fresh image (made in setup), at most.
CREATE_CAPS = {"create_post": 120, "create_post_c1": 30}
WRITE_WARMUP = 8
TRACING_TAIL_SECONDS = 2.0  # the span processors' last export after the load


def machine() -> dict[str, object]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal"))
    return {"cores": cpu.cores(), "model": model, "memory_gib": round(mem_kib / 2**20, 1)}


def commit() -> dict[str, object]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "branch": git("rev-parse", "--abbrev-ref",
                                                               "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="photomesh bench cost",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run, at most")
    p.add_argument("--count", type=int, default=5000, help="calls per run, at most")
    p.add_argument("--warmup", type=int, default=40, help="calls before each read run")
    p.add_argument("--idle", type=float, default=3.0,
                   help="seconds of idle sampling before each run")
    p.add_argument("--baseline-duration", type=float, default=5.0)
    p.add_argument("--ops", default=",".join(operations.BY_KEY),
                   help=f"operations to run (default all): {', '.join(operations.BY_KEY)}")
    p.add_argument("--levels", default="1,4,8,16,32",
                   type=lambda s: [int(x) for x in s.split(",") if x.strip()],
                   help="feed concurrency levels for latency against load (the main run's "
                        "level is reused); '' for none")
    p.add_argument("--level-duration", type=float, default=4.0)
    p.add_argument("--no-tracing", action="store_true", help="skip the exported-spans run")
    p.add_argument("--fanout-tasks", type=int, default=40, help="0 skips the worker run")
    p.add_argument("--fanout-recipients", type=int, default=500)
    p.add_argument("--authors", type=int, default=12)
    p.add_argument("--readers", type=int, default=40)
    p.add_argument("--posts-per-author", type=int, default=5)
    p.add_argument("--tiny", action="store_true",
                   help="a minute-long run of the whole machinery (figures not meaningful)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    p.add_argument("--report", action="store_true",
                   help="only regenerate docs/benchmarks.md and its plots from --json")
    p.add_argument("--before", type=Path, default=BEFORE_JSON,
                   help="with --report: the earlier results shown beside (if present)")
    if "--tiny" in (sys.argv[1:] if argv is None else argv):  # defaults; flags still win
        p.set_defaults(duration=3.0, count=60, warmup=4, idle=1.0, baseline_duration=1.0,
                       levels=[4], level_duration=2.0, fanout_tasks=4, fanout_recipients=100,
                       authors=2, readers=6, posts_per_author=3)
    args = p.parse_args(argv)
    args.create_caps = {k: (8 if args.tiny else v) for k, v in CREATE_CAPS.items()}
    args.write_warmup = 2 if args.tiny else WRITE_WARMUP
    args.ops = [operations.BY_KEY[k.strip()] for k in args.ops.split(",") if k.strip()]
    return args


def spare_images_needed(args: argparse.Namespace) -> int:
    """Images for the CreatePost runs: each run's calls, its warm-up and one sample, and
    two more per author (calls are shared out among authors round-robin)."""
    needed = sum(args.create_caps[op.key] + args.write_warmup + 1 for op in args.ops
                 if op.key in args.create_caps)
    return needed + 2 * args.authors if needed else 0


def measure(args: argparse.Namespace, mesh: Any, edge: Any, ghz: Path, wrk: Path,
            say: Any = print) -> dict[str, Any]:
    """Everything on a running private mesh and edge; the results as one dict."""
    population = asyncio.run(build(
        mesh, authors=args.authors, readers=args.readers,
        posts_per_author=args.posts_per_author,
        spare_images=spare_images_needed(args), say=say))
    say(population.describe())
    settings = RunSettings(concurrency=args.concurrency, duration=args.duration,
                           count=args.count, warmup=args.warmup, idle_seconds=args.idle,
                           baseline_duration=args.baseline_duration)
    edge_target = f"{edge.settings.host}:{edge.settings.envoy_port}"
    counts = BackendOps(mesh.env, f"http://{mesh.settings.host}:"
                                  f"{mesh.settings.nats_monitor_port}")
    if not counts.cql:
        say("note: the CQL store does not count statements per table (system_views); "
            "no CQL counts")
    runner = Runner(ghz=ghz, wrk=wrk, edge_target=edge_target,
                    mesh_pids=mesh_pids(mesh, edge, say=say), population=population,
                    settings=settings, backend_ops=counts)
    noisy_start = cpu.noise({}, 0.0, load=runner.start_load_average)
    if noisy_start:
        say("WARNING: the machine is busy before the benchmark: " + "; ".join(noisy_start))
    results: dict[str, Any] = {
        "benchmark": "cost", "date": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"),
        "machine": machine(), "git": commit(),
        "command": "./photomesh bench cost " + shlex.join(sys.argv[1:]),
        "settings": settings_dict(settings), "population": population.describe(),
        "start_load_average": runner.start_load_average, "start_noise": noisy_start,
        "operations": [], "feed_levels": [], "fanout": None, "tracing": None}

    for op in args.ops:
        say(f"\n-- {op.title} ...")
        if op.writes:
            result = runner.run(op, count=min(args.count, args.create_caps.get(op.key,
                                                                               args.count)),
                                warmup=min(args.warmup, args.write_warmup))
        else:
            result = runner.run(op)
        results["operations"].append(result)
        say(tables.operation_table(result))

    by_key = {r["key"]: r for r in results["operations"]}
    for level in args.levels:
        row: dict[str, Any] = {"concurrency": level}
        for name, op in (("grpc", operations.FEED_GRPC), ("rest", operations.FEED_REST)):
            if level == args.concurrency and op.key in by_key:
                row[name] = by_key[op.key]
                continue
            say(f"\n-- {op.title} at concurrency {level} ...")
            row[name] = runner.run(op, concurrency=level, duration=args.level_duration,
                                   baseline_duration=min(args.baseline_duration,
                                                         args.level_duration),
                                   idle_seconds=min(args.idle, 2.0))
        results["feed_levels"].append(row)
    if args.levels:
        say("\nfeed latency against load:\n" + tables.levels_table(results["feed_levels"]))

    if args.fanout_tasks:
        say("\n-- fan-out worker ...")
        results["fanout"] = runner.fanout(mesh.env, args.fanout_tasks, args.fanout_recipients)
        say(tables.fanout_text(results["fanout"]))

    if not args.no_tracing:
        results["tracing"] = tracing_run(runner, mesh, edge, by_key.get("feed_grpc"), say)
    counts.close()
    return results


def tracing_run(runner: Runner, mesh: Any, edge: Any, default: dict[str, Any] | None,
                say: Any) -> dict[str, Any]:
    """The gRPC feed read again with every service exporting every span (ratio 1.0) to a
    real OTLP receiver in its own process; the services are restarted for it."""
    from bench.measure.otlp_sink import otlp_sink

    say("\n-- tracing: restarting the services with spans exported ...")
    with otlp_sink() as sink:
        restart_services(mesh, edge, {"PHOTOMESH_OTEL_ENDPOINT": sink.endpoint,
                                      "PHOTOMESH_OTEL_SAMPLE_RATIO": "1.0"})
        runner.watch(mesh_pids(mesh, edge))
        exported = runner.run(operations.FEED_GRPC, baseline=default is None,
                              apart={"OTLP receiver": sink.pid},
                              tail_seconds=TRACING_TAIL_SECONDS)
    if default is not None:
        exported["baseline"] = default["baseline"]
        Runner.ratios(exported)
    exported["title"] += ", spans exported"
    tracing = {"sample_ratio": 1.0, "exported": exported,
               "spans_received": sink.received[0] if sink.received else None,
               "default_cpu_ms_per_op": default["cpu_ms_per_op"]["mesh"] if default else None,
               "default_own_cpu_ms_per_op": default["cpu_ms_per_op"]["own"] if default else None}
    say(tables.tracing_text(tracing, default))
    return tracing


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.report:
        from bench.cost.publish import publish

        written = publish(args.json, args.before if args.before.exists() else None)
        print("wrote " + ", ".join(str(p) for p in written))
        return

    from infra.backends.envoy import private_edge
    from infra.edge import EdgeSettings
    from infra.install import ensure_ghz, ensure_wrk
    from infra.sandbox import private_mesh
    from infra.settings import InfraSettings

    settings = InfraSettings()
    ghz, wrk = ensure_ghz(settings), ensure_wrk()
    limits = EdgeSettings(rate_limit_requests=1_000_000, rate_limit_burst=1_000_000,
                          anonymous_rate_limit_requests=1_000_000,
                          anonymous_rate_limit_burst=1_000_000,
                          media_rate_limit_requests=1_000_000, media_rate_limit_burst=1_000_000)
    with tempfile.TemporaryDirectory(prefix="photomesh-bench-cost-") as tmp:
        run_dir = Path(tmp)
        with private_mesh(settings, run_dir, extra=MESH_SETTINGS) as mesh, \
                private_edge(settings.model_copy(update={"run_dir": run_dir}), mesh.env,
                             limits) as edge:
            results = measure(args, mesh, edge, ghz, wrk)
            # Saved before the private mesh is dropped (a slow DROP KEYSPACE loses nothing).
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1) + "\n")
            print(f"saved {args.json}; dropping the private mesh ...", flush=True)
    print("\nsummary (mesh CPU per call summed over every mesh process; the floor is a bare "
          "grpc.aio call returning the same bytes):")
    print(tables.summary_table(results["operations"]))
    print("\n" + tables.targets_text(results))
    if results["start_noise"] or any(r["background"]["noisy"] for r in results["operations"]):
        print("WARNING: some runs had a noisy background (see each run above)")
    print(f"\n`./photomesh bench cost --report --json {args.json}` regenerates "
          f"docs/benchmarks.md from these results")


if __name__ == "__main__":
    main()
