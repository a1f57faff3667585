"""`./photomesh bench large-graph`: feed reads, fan-out lag and celebrity merges on a
graph loaded straight into the store, against the same on socfb-Reed98.

    ./photomesh bench large-graph --users 1000000 --edges 50000000   # the issue's size
    ./photomesh bench large-graph --users 30000 --edges 600000       # minutes, not an hour
    ./photomesh bench large-graph --report                           # docs from the JSON

It needs a stack of its own: it stops and starts the CQL node to hand it SSTables, so it
refuses a node it did not find in its own run dir (docs/benchmarks.md has the settings of
the run published). One private mesh (infra/sandbox.py, with /metrics for the fan-out row
count) and a private edge; `--celebrity-threshold` is the feed's (authors with more
followers are merged at read time, not fanned out). Phases on the same store, in order:

1. **reed98**: socfb-Reed98 (every friendship a follow both ways) plus 2 celebrities,
   bulk-loaded (bench/large_graph/bulk.py), measured (bench/large_graph/phase.py) after
   one unrecorded pass that warms the mesh;
2. the driver path's rows/s, for the record (bench/large_graph/driver_probe.py);
3. **power-law**: `--users` accounts and about `--edges` follows, with `--celebrities`
   accounts followed by everyone outside a 2% cohort, bulk-loaded, measured;
4. **reed98-again**: Reed98's people measured again, the large graph now in the same tables.

A figure that grows from phase 1 to phase 4 grows with the size of the store; one that
differs between Reed98 and the power law depends on the graph's shape (followers of the
author, followees of the reader). Saves bench/results/large-graph.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.large_graph import bulk, driver_probe, phase

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "large-graph.json"
REED98 = REPO.parent / "shared" / "datasets" / "socfb-Reed98" / "socfb-Reed98.edges"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="photomesh bench large-graph",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=50_000_000)
    p.add_argument("--celebrities", type=int, default=3)
    p.add_argument("--celebrity-threshold", type=int, default=500,
                   help="PHOTOMESH_FEED_CELEBRITY_THRESHOLD of the mesh (the service's default "
                        "is 10,000; lower here so Reed98's celebrities are merged too)")
    p.add_argument("--lag-followers", default="30,100,300",
                   help="the lag authors: those whose follower counts are closest to these")
    p.add_argument("--readers", type=int, default=20, help="readers of each kind")
    p.add_argument("--posts", type=int, default=7,
                   help="posts per lag author and phase (their readers' pages fill up)")
    p.add_argument("--duration", type=float, default=8.0, help="seconds per read run")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="where SSTables are written (default: beside the node's data)")
    p.add_argument("--writer-heap-mb", type=int, default=4096)
    p.add_argument("--json", type=Path, default=RESULTS)
    p.add_argument("--report", action="store_true",
                   help="only regenerate the docs section and plots from --json")
    return p.parse_args(argv)


def _graph_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    common = {"lag": args.lag_followers, "readers": args.readers}
    return {
        "reed98": {"graph": "reed98", "edges_file": REED98, "celebrities": 2, "share": 0.7,
                   "plain": 0.2, "seed": 98, "prefix": "reed", **common},
        "power-law": {"graph": "powerlaw", "users": args.users, "edges": args.edges,
                      "celebrities": args.celebrities, "share": 1.0, "plain": 0.02,
                      "seed": 2, "prefix": "lg", **common},
    }


def _store_size(node: Any, keyspace: str) -> dict[str, Any]:
    tables = {}
    for directory in sorted((node.data_dir / "data" / keyspace).glob("graph_*")):
        files = [p for p in directory.rglob("*") if p.is_file()]
        tables[directory.name.rsplit("-", 1)[0]] = {
            "sstables": sum(1 for p in files if p.name.endswith("-Data.db")),
            "bytes": sum(p.stat().st_size for p in files)}
    return tables


def load(name: str, graph: dict[str, Any], mesh: Any, edge: Any, node: Any, work: Path,
         args: argparse.Namespace) -> dict[str, Any]:
    """Write `graph` as SSTables and hand them to the node, the mesh stopped meanwhile."""
    from infra import services as mesh_services

    keyspace = mesh.env["PHOTOMESH_CQL_KEYSPACE"]
    print(f"[{name}] writing SSTables ...", flush=True)
    manifest = bulk.write(node.settings, keyspace, work / name, graph,
                          heap_mb=args.writer_heap_mb)
    t0 = time.monotonic()
    mesh_services.stop_services(mesh.settings)
    manifest["hand_over"] = bulk.hand_over(node, keyspace, work / name)
    mesh_services.start_services(mesh.settings, overrides=mesh.env, layout=mesh.layout)
    edge.wait_routable(120.0)
    manifest["hand_over"]["total_seconds"] = round(time.monotonic() - t0, 1)
    manifest["store"] = _store_size(node, keyspace)
    shutil.rmtree(work / name, ignore_errors=True)
    print(f"[{name}] {manifest['users']:,} users, {manifest['follows']:,} follows: "
          f"{manifest['rows']:,} rows written in {manifest['write_seconds']:.0f} s "
          f"({manifest['rows_per_s']:,.0f} rows/s), {manifest['sstable_bytes'] / 2**30:.2f} GiB "
          f"of SSTable data; the node took them in {manifest['hand_over']['total_seconds']} s",
          flush=True)
    return manifest


def probe(mesh: Any) -> dict[str, Any]:
    from cassandra.cluster import Cluster

    from infra.sandbox import cql_auth

    env = mesh.env
    cluster = Cluster(json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"]),
                      port=int(env["PHOTOMESH_CQL_PORT"]), protocol_version=4,
                      auth_provider=cql_auth(env))
    try:
        found = driver_probe.probe(cluster.connect(), env["PHOTOMESH_CQL_KEYSPACE"])
    finally:
        cluster.shutdown()
    print(f"driver path: {found['single_inserts_rows_per_s']:,} rows/s as single INSERTs, "
          f"{found['partition_batches_rows_per_s']:,} rows/s as one-partition batches",
          flush=True)
    return found


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from bench.cost.__main__ import MESH_SETTINGS, commit, machine
    from bench.cost.runs import RunSettings, settings_dict
    from bench.measure.cpu import load_average
    from infra import stack
    from infra.backends.envoy import private_edge
    from infra.edge import EdgeSettings
    from infra.install import ensure_ghz, ensure_wrk
    from infra.sandbox import private_mesh
    from infra.settings import InfraSettings

    settings = InfraSettings()
    node = stack.backend(settings, "cassandra")
    if node.external or node.process.pid() is None:
        raise SystemExit("bench large_graph restarts the CQL node: run it on a stack of its "
                         "own (PHOTOMESH_RUN_DIR and ports; see docs/benchmarks.md)")
    ghz, wrk = ensure_ghz(settings), ensure_wrk()
    reads = RunSettings(concurrency=8, duration=args.duration, count=5000, warmup=40,
                        idle_seconds=2.0, baseline_duration=3.0)
    unlimited = 1_000_000
    limits = EdgeSettings(rate_limit_requests=unlimited, rate_limit_burst=unlimited,
                          anonymous_rate_limit_requests=unlimited,
                          anonymous_rate_limit_burst=unlimited,
                          media_rate_limit_requests=unlimited, media_rate_limit_burst=unlimited)
    extra = {**MESH_SETTINGS,
             "PHOTOMESH_FEED_CELEBRITY_THRESHOLD": str(args.celebrity_threshold)}
    graphs = _graph_args(args)
    work = args.work_dir or settings.run_dir / "bulk"
    results: dict[str, Any] = {
        "benchmark": "large_graph",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(), "git": commit(),
        "command": "./photomesh bench large-graph " + shlex.join(sys.argv[1:]),
        "celebrity_threshold": args.celebrity_threshold, "reads": settings_dict(reads),
        "start_load_average": load_average(), "loads": {}, "phases": []}
    with tempfile.TemporaryDirectory(prefix="photomesh-bench-graph-") as tmp, \
            private_mesh(settings, Path(tmp), extra=extra, metrics=True) as mesh, \
            private_edge(settings.model_copy(update={"run_dir": Path(tmp)}), mesh.env,
                         limits) as edge:
        def save() -> None:
            results["end_load_average"] = load_average()
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")

        small = load("reed98", graphs["reed98"], mesh, edge, node, work, args)
        results["loads"]["reed98"] = small
        # A first pass, not compared: a cold mesh (JIT, connection pools, caches) would
        # make phase 1 look slower than phase 3 for reasons that have nothing to do with size.
        results["warm_up"] = phase.run("warm-up", small, mesh, edge, ghz, wrk, reads, 1)
        results["phases"].append(phase.run("reed98", small, mesh, edge, ghz, wrk, reads,
                                           args.posts))
        save()
        results["driver_path"] = probe(mesh)
        big = load("power-law", graphs["power-law"], mesh, edge, node, work, args)
        results["loads"]["power-law"] = big
        save()
        results["phases"].append(phase.run("power-law", big, mesh, edge, ghz, wrk, reads,
                                           args.posts))
        save()
        results["phases"].append(phase.run("reed98-again", small, mesh, edge, ghz, wrk, reads,
                                           args.posts))
        save()
        print(f"saved {args.json}; dropping the private mesh ...", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.report:
        from bench.large_graph.publish import publish

        print("wrote " + ", ".join(str(p) for p in publish(args.json)))
        return
    results = measure(args)
    from bench.large_graph.publish import summary

    print("\n" + summary(results))


if __name__ == "__main__":
    main()
