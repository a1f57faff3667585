"""docs/benchmarks.md and its plots, regenerated from the cost benchmark's JSON.

    ./photomesh bench cost --report [--json bench/results/cost.json]
                                    [--before bench/results/cost-before.json]

Writes docs/benchmarks.md, docs/benchmarks/cpu-per-operation.svg (mesh CPU per call per
process, stacked, with the targets and the bare floor as ticks) and
docs/benchmarks/feed-latency.svg (feed p50/p99 against concurrency, gRPC and REST, beside
the floor). With an earlier result (`before`, from another run) it adds a before/after
table. The sections of the scale benchmarks (bench/topology, bench/large_graph) follow,
from their saved JSONs, with their plots: `publish_all()` regenerates everything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.cost.tables import processes
from bench.cost.targets import TARGETS, verdicts
from bench.measure.svg import PALETTE, Bar, Marker, Series, line_chart, stacked_bars

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmarks.md"
PLOTS = REPO / "docs" / "benchmarks"
RESULTS = REPO / "bench" / "results"
Result = Mapping[str, Any]


def _ms(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _shares(result: Result, top: int = 4) -> str:
    return ", ".join(f"{name} {ms:.2f}" for name, ms in processes(result)[:top])


def _backend_ops(result: Result) -> str:
    ops = result.get("backend_ops_per_call")
    if not ops:
        return "–"
    return f"{ops['cql_reads']:g} / {ops['cql_writes']:g}, {ops['nats_messages']:g}"


def _targets(result: Result) -> str:
    found = verdicts(result["key"], result)
    return "<br>".join(("met: " if v.met else "**missed**: ") + v.text.split(": ", 1)[0]
                       + ("" if v.met else " by " + v.text.split(": missed by ", 1)[1]
                          .replace(" (", ", ").rstrip(")"))
                       for v in found) or "–"


def operations_table(results: Sequence[Result]) -> list[str]:
    lines = ["| operation | mesh CPU ms/call | of which ours (services, edge) | "
             "largest shares, ms/call | calls/s | "
             "p50 / p99 ms | floor calls/s | floor CPU ms/call | throughput vs floor | "
             "CPU vs floor | CQL reads / writes, NATS msgs per call | target (issue 10) |",
             "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in results:
        base = r.get("baseline") or {}
        ratios = r.get("ratios") or {}
        cpu = r["cpu_ms_per_op"]
        lines.append(
            f"| {r['title']} (c={r['concurrency']}) | **{_ms(cpu['mesh'])}** "
            f"± {_ms(cpu.get('uncertainty'))} | {_ms(cpu.get('own'))} | {_shares(r)} | "
            f"{_ms(r['load']['throughput_per_s'], 1)} | {_ms(r['load']['p50_ms'], 1)} / "
            f"{_ms(r['load']['p99_ms'], 1)} | "
            f"{_ms(base.get('load', {}).get('throughput_per_s'), 0)} | "
            f"{_ms(base.get('cpu_ms_per_op'))} | "
            f"{_ms(ratios.get('throughput'), 3)}× | {_ms(ratios.get('cpu'), 1)}× | "
            f"{_backend_ops(r)} | {_targets(r)} |")
    return lines


def cpu_plot(results: Sequence[Result]) -> str:
    bars = []
    for r in results:
        markers = [Marker("bare floor", r["baseline"]["cpu_ms_per_op"], "#000")
                   ] if r.get("baseline") else []
        markers += [Marker(f"target {t.limit:g} ms", t.limit, "#d00") for t in TARGETS
                    if t.key == r["key"] and t.figure == "cpu"]
        bars.append(Bar(r["title"], r["cpu_ms_per_op"]["processes"], markers,
                        total=r["cpu_ms_per_op"]["mesh"]))
    return stacked_bars(bars, title="Mesh CPU per call, by process (red tick: target, black: "
                                    "bare floor)", x_label="CPU ms per call (net of idle)")


def feed_levels(results: Result) -> list[Result]:
    """The feed's concurrency levels, with the main runs at their own level among them."""
    levels = {level["concurrency"]: dict(level) for level in results.get("feed_levels") or []}
    for r in results["operations"]:
        name = {"feed_grpc": "grpc", "feed_rest": "rest"}.get(r["key"])
        if name and levels:
            levels.setdefault(r["concurrency"], {"concurrency": r["concurrency"]})
            levels[r["concurrency"]].setdefault(name, r)
    return [levels[c] for c in sorted(levels)]


def latency_plot(levels: Sequence[Result]) -> str:
    categories = [str(level["concurrency"]) for level in levels]
    series = []
    colors = iter(PALETTE)
    for name, label in (("grpc", "gRPC via edge"), ("rest", "REST via edge")):
        color = next(colors)
        for q, dashed in (("p50", False), ("p99", True)):
            series.append(Series(f"{label} {q}", [level[name]["load"][f"{q}_ms"]
                                                  if level.get(name) else None
                                                  for level in levels], color, dashed))
    color = next(colors)
    for q, dashed in (("p50", False), ("p99", True)):
        series.append(Series(f"bare floor {q}", [level["grpc"]["baseline"]["load"][f"{q}_ms"]
                                                 if level.get("grpc") else None
                                                 for level in levels], color, dashed))
    return line_chart(categories, series, title="GetHomeFeed latency against load "
                                                "(20-item page)",
                      x_label="concurrent callers (closed loop)", y_label="latency, ms (log)",
                      guides={"p99 target 25 ms": 25.0})


def levels_table(levels: Sequence[Result]) -> list[str]:
    lines = ["| concurrency | transport | calls/s | p50 / p99 ms | mesh CPU ms/call | "
             "floor calls/s | floor p50 / p99 ms |", "|--:|---|--:|--:|--:|--:|--:|"]
    for level in levels:
        for name in ("grpc", "rest"):
            r = level.get(name)
            if r:
                b = r["baseline"]["load"]
                lines.append(f"| {level['concurrency']} | {name} | "
                             f"{r['load']['throughput_per_s']:,.1f} | "
                             f"{r['load']['p50_ms']:.1f} / {r['load']['p99_ms']:.1f} | "
                             f"{r['cpu_ms_per_op']['mesh']:.2f} | {b['throughput_per_s']:,.0f} | "
                             f"{b['p50_ms']:.2f} / {b['p99_ms']:.2f} |")
    return lines


def before_after(before: Result, after: Result) -> list[str]:
    old = {r["key"]: r for r in before["operations"]}
    lines = [f"Before: {before['date']} (commit `{before['git']['commit'][:10]}`); after: "
             f"{after['date']} (commit `{after['git']['commit'][:10]}`).", "",
             "| operation | mesh CPU ms/call, before → after | calls/s | p99 ms | "
             "throughput vs floor |", "|---|--:|--:|--:|--:|"]
    for r in after["operations"]:
        b = old.get(r["key"])
        if not b:
            continue
        lines.append(
            f"| {r['title']} | {b['cpu_ms_per_op']['mesh']:.2f} → "
            f"**{r['cpu_ms_per_op']['mesh']:.2f}** | {b['load']['throughput_per_s']:,.1f} → "
            f"{r['load']['throughput_per_s']:,.1f} | {b['load']['p99_ms']:.1f} → "
            f"{r['load']['p99_ms']:.1f} | {_ms((b.get('ratios') or {}).get('throughput'), 3)}"
            f"× → {_ms((r.get('ratios') or {}).get('throughput'), 3)}× |")
    if before.get("fanout") and after.get("fanout"):
        lines.append(f"| fan-out worker, rows/s | | {before['fanout']['rows_per_s']:,.0f} → "
                     f"{after['fanout']['rows_per_s']:,.0f} | | |")
    return lines


def _noise(results: Result) -> str:
    noisy = [r for r in results["operations"] if r["background"]["noisy"]]
    others = [r["background"]["others_cores_run"] for r in results["operations"]]
    text = (f"The machine is shared: other processes used {min(others):.2f}–{max(others):.2f} "
            f"cores during the runs (load average {results['start_load_average']:.2f} at the "
            f"start). The ± after each CPU figure is how far it may be off from the "
            f"background alone: the idle rates' wander (0.5 s steps) and drift from before "
            f"the run to after it, over the run. When the machine is saturated, other "
            f"people's load on the shared backends shrinks while a run takes CPU, so the "
            f"backends' net shares read low: the services' own figures and the counted CQL "
            f"statements are the firm ones.")
    if noisy:
        reasons = sorted({reason for r in noisy for reason in r["background"]["noisy"]})
        text += (f" {len(noisy)} of {len(results['operations'])} runs had a noisy background "
                 f"({'; '.join(reasons[:3])}).")
    return text


OTHER_BENCHMARKS = """\
## The other benchmarks

Each runs on a private mesh of this checkout (`infra/sandbox.py`) on the shared backends and
prints its figures; options are in each module's docstring (`--help`).

### feed — `./photomesh bench feed`
DeathStarBench's social-network mix on the socfb-Reed98 graph plus skewed celebrities: 60%
GetHomeFeed, 30% GetProfileFeed, 10% CreatePost at several concurrency levels, the fan-out
lag (post created → last follower's timeline written), the home feed against a bare
grpc.aio call of the same size, the fan-out worker's rows/s and a profile of one read.
`--parts lag` or `--parts worker` run one part. Saves `bench/results/feed.json` and
`feed-latency.svg`.

### social — `./photomesh bench social`
CreatePost, BatchGetPosts (20), LikePost and Follow straight to the services (no edge),
each beside a bare grpc.aio echo of the same request and response sizes, in-process load.

### stories — `./photomesh bench stories`
GetStoryTray warm and with its Redis state dropped before every call (rebuilt from CQL),
the graph call every tray read starts with, and notification delivery lag (event published
→ inbox written and pushed) one at a time and in a burst. Saves `bench/results/stories.json`.

### edge — `./photomesh bench edge`
The latency Envoy adds: GetPublicKeys (routed only) and GetMedia (JWT verified, rate
limited) through the edge and straight to the service, in the same run.

### media — `./photomesh bench media`
Image transcoding (every rendition and the blurhash) against a bare Pillow resize of the
same image, and a 10 s 1080p video to its HLS renditions, one at a time.
"""


def render(results: Result, before: Result | None = None, plots: str = PLOTS.name,
           source: str = "bench/results/cost.json") -> str:
    m, g = results["machine"], results["git"]
    s = results["settings"]
    lines = [
        "# Benchmarks", "",
        f"<!-- Generated by `./photomesh bench cost --report` from {source}; "
        "edit bench/cost/publish.py, not this file. -->", "",
        "Speed is measured, not asserted: every benchmark under `bench/` runs against a "
        "private mesh of this checkout and prints its figures beside a floor measured in the "
        "same run.", "",
        "## Cost per operation — `./photomesh bench cost`", "",
        f"Measured {results['date']} on {m['cores']} cores ({m['model']}, "
        f"{m['memory_gib']} GiB), commit `{g['commit'][:10]}`"
        f"{' (with local changes)' if g.get('dirty') else ''}, with "
        f"`{results['command'].strip()}`.",
        "",
        f"**Setup.** {results['population']}: a home-feed page is 20 posts with media.", "",
        f"**Load.** A separate process: ghz (gRPC) or wrk (REST), closed loop, concurrency "
        f"{s['concurrency']} unless said, each run gated by {s['count']:,} calls and "
        f"{s['duration']:g} s, after {s['warmup']} warm-up calls, through the private Envoy "
        f"edge on loopback. Writes are new every call (a new like, a new follow, a new "
        f"image per post). Throughput and p50/p99 are the load generator's own.", "",
        "**CPU.** utime+stime (children included) from `/proc/<pid>/stat` of every mesh "
        "process — each service and worker, Envoy, Cassandra, Redis, NATS, MinIO — before "
        "and after each run, including the work the calls trigger (events, fan-out, "
        "notifications: the run ends when the mesh is idle again), net of each process's "
        f"idle rate sampled for {s['idle_seconds']:g} s before and after, divided by the "
        "calls answered OK. The mesh's figure is our own processes plus the shared "
        "backends, a backend's negative net share (noise) counted as nothing; ± is how far "
        "the idle rates wandered over the run. The load generator's CPU is reported "
        "apart, never charged to the mesh.", "",
        "**Floor.** A bare grpc.aio unary server (uvloop, no interceptors, its own process) "
        "answering the same method with the same response bytes recorded from the mesh, "
        "loaded by ghz the same way, straight (no edge); its CPU from `/proc` too. REST "
        "reads are compared with the same gRPC floor (the page without the edge's JSON "
        "transcoding).", "",
        "**Backends, counted.** CQL reads and writes per call on the run's own keyspace as "
        "Cassandra's coordinator counts them (`system_views`), and NATS messages stored in "
        "the run's own streams: exact, where the shared servers' CPU is not.", "",
        _noise(results), "",
    ]
    lines += operations_table(results["operations"])
    lines += ["", f"![Mesh CPU per call by process]({plots}/cpu-per-operation.svg)", ""]
    if results.get("feed_levels"):
        lines += ["### Feed latency against load", ""]
        lines += levels_table(feed_levels(results))
        lines += ["", f"![GetHomeFeed latency against load]({plots}/feed-latency.svg)", ""]
    tracing = results.get("tracing")
    if tracing:
        ex = tracing["exported"]
        default = tracing.get("default_cpu_ms_per_op")
        lines += ["### Tracing", "",
                  f"GetHomeFeed over gRPC with every service exporting every span (ratio "
                  f"{tracing['sample_ratio']}) to a real OTLP receiver in its own process "
                  f"({tracing.get('spans_received')} spans received), against the default "
                  f"settings (no exporter): **{ex['cpu_ms_per_op']['own']:.2f}** against "
                  f"{_ms(tracing.get('default_own_cpu_ms_per_op'))} ms of our processes' CPU "
                  f"per page (the whole mesh {ex['cpu_ms_per_op']['mesh']:.2f} against "
                  f"{_ms(default)}), p99 {ex['load']['p99_ms']:.1f} ms; "
                  f"the receiver's own CPU, "
                  f"{sum((ex.get('apart_cpu_ms_per_op') or {}).values()):.2f} ms per page, is "
                  f"not counted.", ""]
    fanout = results.get("fanout")
    if fanout:
        shares = sorted(fanout["cpu_us_per_row"]["processes"].items(), key=lambda kv: -kv[1])
        verdict = verdicts("fanout", fanout)
        lines += ["### Fan-out worker", "",
                  f"{fanout['tasks']} fan-out tasks of {fanout['recipients_per_task']} "
                  f"followers each, published as the feed service does: "
                  f"**{fanout['rows_per_s']:,.0f} timeline rows/s**, "
                  f"{fanout['cpu_us_per_row']['mesh']:.1f} µs of mesh CPU per row ("
                  + ", ".join(f"{n} {us:.1f}" for n, us in shares[:3]) + ")."
                  + (f" Target {verdict[0].text}." if verdict else ""), ""]
    if before is not None and before.get("date") != results.get("date"):
        lines += ["### Before and after", ""] + before_after(before, results) + [""]
    lines += scale_sections(plots)
    lines.append(OTHER_BENCHMARKS)
    return "\n".join(lines)


def scale_sections(plots: str) -> list[str]:
    """The sections of the scale benchmarks whose results are saved."""
    from bench.large_graph import publish as large_graph
    from bench.topology import publish as topology

    return topology.sections(plots) + large_graph.sections(plots)


def scale_plots() -> dict[str, str]:
    from bench.large_graph import publish as large_graph
    from bench.topology import publish as topology

    return {**topology.plots(), **large_graph.plots()}


def publish(json_path: Path, before_path: Path | None = None, doc: Path = DOC) -> list[Path]:
    """Write `doc` and its plots (in the folder named like it, beside it)."""
    results = json.loads(json_path.read_text())
    before = json.loads(before_path.read_text()) if before_path else None
    plots = doc.parent / doc.stem
    plots.mkdir(parents=True, exist_ok=True)
    try:
        source = str(json_path.resolve().relative_to(REPO))
    except ValueError:
        source = str(json_path)
    doc.write_text(render(results, before, plots.name, source))
    written = [doc, plots / "cpu-per-operation.svg"]
    written[1].write_text(cpu_plot(results["operations"]))
    if results.get("feed_levels"):
        written.append(plots / "feed-latency.svg")
        written[-1].write_text(latency_plot(feed_levels(results)))
    for name, svg in scale_plots().items():
        written.append(plots / name)
        written[-1].write_text(svg)
    return written


def publish_all(doc: Path = DOC) -> list[Path]:
    """The document as published: the cost figures after, before beside them, and the
    scale benchmarks' sections."""
    return publish(RESULTS / "cost-after.json", RESULTS / "cost-before.json", doc)


__all__ = ["publish", "publish_all", "render"]
