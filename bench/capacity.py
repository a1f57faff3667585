"""`./photomesh bench capacity`: the capacity model of docs/capacity.md, computed from the
cost benchmark's JSON (bench/cost/publish.py writes it) and the assumptions below.

    ./photomesh bench capacity                       # from bench/results/cost-after.json
    ./photomesh bench capacity --json bench/results/cost.json --out docs/capacity.md

Every measured input is read from the JSON (CPU per call of each process, CQL statements
and NATS messages per call, response sizes, fan-out CPU per timeline row), so the model
follows the code when the code gets faster. Every other number is an assumption, named in
`ASSUMPTIONS` and printed in the document beside the result it feeds.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "capacity.md"
BACKENDS = ("cassandra", "redis", "nats", "minio")

#: The seeds' scale (issue 13): the peak the system is sized for.
SCALE = {"daily_users": 500e6, "feed_reads_per_s": 80_000.0, "post_writes_per_s": 800.0,
         "photos_per_day": 100e6}


@dataclass(frozen=True)
class Assumption:
    value: float
    unit: str
    why: str


#: Everything not measured here. Change a value, rerun, and the tables follow.
ASSUMPTIONS: dict[str, Assumption] = {
    "likes_per_post_write": Assumption(10, "likes per post written",
        "engagement mix; Instagram-like apps see far more likes than posts"),
    "follows_per_s": Assumption(1_000, "follows/s",
        "graph churn at 500M DAU (≈ 0.2 follows per user per day)"),
    "get_post_per_s": Assumption(8_000, "GetPost/s", "post detail opens, ≈ 10% of feed reads"),
    "story_tray_per_s": Assumption(30_000, "GetStoryTray/s", "tray opened with most feed reads"),
    "notifications_per_s": Assumption(10_000, "ListNotifications/s", "inbox opens"),
    "mean_followers": Assumption(200, "followers per post fanned out",
        "mean audience of a non-celebrity author; authors above the celebrity threshold "
        "(10,000) are merged at read time, not fanned out"),
    "peak_to_mean": Assumption(2.0, "×", "peak rate over the daily mean, for daily volumes"),
    "cpu_utilisation": Assumption(0.6, "of a core",
        "target busy share per core, leaving room for failover and bursts"),
    "scylla_ops_per_core": Assumption(10_000, "CQL ops/s per core",
        "ScyllaDB on NVMe for small partitions (its published figures are higher; this leaves "
        "room for compaction and repair)"),
    "scylla_cores_per_node": Assumption(16, "vCPU per node", "i4i.4xlarge-class node"),
    "scylla_disk_per_node_tb": Assumption(3.75, "TB NVMe per node", "same node class"),
    "scylla_disk_fill": Assumption(0.5, "of the disk",
        "room for compaction (size-tiered needs up to 2×)"),
    "replication_factor": Assumption(3, "replicas",
        "RF 3, QUORUM reads and writes: one node of three down at a time"),
    "timeline_row_bytes": Assumption(80, "bytes on disk per timeline row and replica",
        "user_id + post_id + author_id (40 B) plus row overhead, before compression"),
    "timeline_ttl_days": Assumption(30, "days", "PHOTOMESH_FEED_TIMELINE_TTL_DAYS"),
    "post_row_bytes": Assumption(1_500, "bytes per post, all tables",
        "a post with its caption, media refs, counters, author index"),
    "nats_msgs_per_node": Assumption(50_000, "JetStream msgs/s per server",
        "R3 file-backed streams of small messages, acknowledged publishes"),
    "active_user_share": Assumption(0.6, "of daily users",
        "users whose timeline is kept in Redis (read in the last PHOTOMESH_FEED_ACTIVE_DAYS)"),
    "cached_timeline_entries": Assumption(300, "entries per cached timeline",
        "what an active user's timeline holds on average (cap PHOTOMESH_FEED_CACHE_CAP = 800)"),
    "redis_entry_bytes": Assumption(24, "bytes per timeline entry",
        "sorted-set member + score in a listpack/skiplist"),
    "card_days": Assumption(3, "days of post cards",
        "cards of recent posts kept in Redis; older posts are hydrated from the post service"),
    "redis_overhead": Assumption(1.5, "×", "fragmentation, replicas' buffers, keys"),
    "photo_bytes": Assumption(1_500_000, "bytes stored per photo",
        "the re-encoded original (≈ 1.2 MB) plus its renditions (≈ 0.3 MB)"),
    "minio_erasure_overhead": Assumption(1.5, "×",
        "erasure coding EC:4 over 12 drives per set (12/8)"),
    "transcode_cpu_s_per_photo": Assumption(0.3, "CPU seconds per photo",
        "every rendition and the blurhash of a phone photo (`./photomesh bench media` "
        "measures a 1080 px one)"),
    "upload_bytes": Assumption(2_500_000, "bytes per upload", "a phone photo as sent"),
    "image_views_per_feed_read": Assumption(6, "images fetched per page",
        "of 20 items, what scrolls into view; served by a CDN in front of the edge"),
    "image_view_bytes": Assumption(80_000, "bytes per image view", "the 640 px rendition"),
}


def assumption(name: str) -> float:
    return ASSUMPTIONS[name].value


@dataclass(frozen=True)
class Load:
    key: str           # the operation in the cost JSON
    title: str
    rate: float        # calls/s at peak
    source: str        # where the rate comes from


def loads() -> list[Load]:
    post_rate = SCALE["post_writes_per_s"]
    return [
        Load("feed_grpc", "GetHomeFeed", SCALE["feed_reads_per_s"], "seeds: 80k feed reads/s"),
        Load("create_post", "CreatePost", post_rate, "seeds: 800 post writes/s"),
        Load("like_post", "LikePost", post_rate * assumption("likes_per_post_write"),
             "assumption likes_per_post_write"),
        Load("follow", "Follow", assumption("follows_per_s"), "assumption follows_per_s"),
        Load("get_post", "GetPost", assumption("get_post_per_s"), "assumption get_post_per_s"),
        Load("story_tray", "GetStoryTray", assumption("story_tray_per_s"),
             "assumption story_tray_per_s"),
        Load("list_notifications", "ListNotifications", assumption("notifications_per_s"),
             "assumption notifications_per_s"),
    ]


def _ops(result: Mapping[str, Any], name: str) -> float:
    return float((result.get("backend_ops_per_call") or {}).get(name, 0.0))


def model(cost: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure of the document, from the cost results and the assumptions."""
    ops = {r["key"]: r for r in cost["operations"]}
    fanout = cost.get("fanout") or {}
    rows_per_s = SCALE["post_writes_per_s"] * assumption("mean_followers")
    per_process: dict[str, float] = {}
    lines = []
    for load in loads():
        r = ops[load.key]
        procs = {n: max(0.0, v) for n, v in r["cpu_ms_per_op"]["processes"].items()
                 if n not in BACKENDS}
        cores = {n: load.rate * ms / 1000 for n, ms in procs.items()}
        for n, c in cores.items():
            per_process[n] = per_process.get(n, 0.0) + c
        lines.append({"load": load, "own_ms": sum(procs.values()), "cores": sum(cores.values()),
                      "cql_reads": load.rate * _ops(r, "cql_reads"),
                      "cql_writes": load.rate * _ops(r, "cql_writes"),
                      "nats": load.rate * _ops(r, "nats_messages"),
                      "bytes": r["response_bytes"]})
    fan_procs = {n: max(0.0, v) for n, v in (fanout.get("cpu_us_per_row") or {})
                 .get("processes", {}).items() if n not in BACKENDS}
    fan_cores = {n: rows_per_s * us / 1e6 for n, us in fan_procs.items()}
    for n, c in fan_cores.items():
        per_process[n] = per_process.get(n, 0.0) + c
    photos_per_s = SCALE["photos_per_day"] * assumption("peak_to_mean") / 86400
    transcode_cores = photos_per_s * assumption("transcode_cpu_s_per_photo")
    per_process["media_worker"] = per_process.get("media_worker", 0.0) + transcode_cores
    busy = sum(per_process.values())
    util = assumption("cpu_utilisation")

    # ScyllaDB: statements as counted, a fanned-out row as one mutation, every write on RF
    # replicas, a QUORUM read on RF/2+1.
    rf = assumption("replication_factor")
    quorum = math.floor(rf / 2) + 1
    reads = sum(line["cql_reads"] for line in lines)
    writes = sum(line["cql_writes"] for line in lines) + rows_per_s
    replica_ops = reads * quorum + writes * rf
    ops_nodes = replica_ops / (assumption("scylla_ops_per_core") *
                               assumption("scylla_cores_per_node") * util)
    day = 86400 / assumption("peak_to_mean")
    timeline_tb = (rows_per_s * day * assumption("timeline_ttl_days") *
                   assumption("timeline_row_bytes") * rf) / 1e12
    posts_tb_year = SCALE["post_writes_per_s"] * day * 365 * assumption("post_row_bytes") * rf \
        / 1e12
    usable_per_node = assumption("scylla_disk_per_node_tb") * assumption("scylla_disk_fill")
    disk_nodes = (timeline_tb + posts_tb_year) / usable_per_node
    scylla_nodes = max(3, math.ceil(max(ops_nodes, disk_nodes) / 3) * 3)

    nats = sum(line["nats"] for line in lines) + rows_per_s * float(
        (fanout.get("backend_ops_per_row") or {}).get("nats_messages", 0.0))
    nats_nodes = max(3, math.ceil(nats / assumption("nats_msgs_per_node") / 3) * 3)

    feed = ops["feed_grpc"]
    card_bytes = feed["response_bytes"] / 20  # a page is 20 cards, as serialized
    timelines_gb = (SCALE["daily_users"] * assumption("active_user_share") *
                    assumption("cached_timeline_entries") * assumption("redis_entry_bytes")) / 1e9
    cards_gb = SCALE["post_writes_per_s"] * day * assumption("card_days") * card_bytes / 1e9
    redis_gb = (timelines_gb + cards_gb) * assumption("redis_overhead")

    photos_day = SCALE["photos_per_day"]
    minio_tb_day = photos_day * assumption("photo_bytes") / 1e12
    minio_raw_pb_year = minio_tb_day * 365 * assumption("minio_erasure_overhead") / 1000

    feed_gbit = SCALE["feed_reads_per_s"] * feed["response_bytes"] * 8 / 1e9
    rest_bytes = ops.get("feed_rest", {}).get("rest_response_bytes") or feed["response_bytes"]
    feed_rest_gbit = SCALE["feed_reads_per_s"] * rest_bytes * 8 / 1e9
    images_gbit = SCALE["feed_reads_per_s"] * assumption("image_views_per_feed_read") * \
        assumption("image_view_bytes") * 8 / 1e9
    upload_gbit = photos_day / day * assumption("upload_bytes") * 8 / 1e9
    return {
        "photos_per_s": photos_per_s, "transcode_cores": transcode_cores,
        "lines": lines, "rows_per_s": rows_per_s, "fan_cores": sum(fan_cores.values()),
        "fan_us_per_row": sum(fan_procs.values()),
        "per_process": per_process, "busy_cores": busy, "cores": busy / util,
        "cql_reads": reads, "cql_writes": writes, "replica_ops": replica_ops,
        "ops_nodes": ops_nodes, "timeline_tb": timeline_tb, "posts_tb_year": posts_tb_year,
        "disk_nodes": disk_nodes, "scylla_nodes": scylla_nodes, "quorum": quorum,
        "nats_msgs": nats, "nats_nodes": nats_nodes, "card_bytes": card_bytes,
        "timelines_gb": timelines_gb, "cards_gb": cards_gb, "redis_gb": redis_gb,
        "minio_tb_day": minio_tb_day, "minio_raw_pb_year": minio_raw_pb_year,
        "feed_gbit": feed_gbit, "feed_rest_gbit": feed_rest_gbit, "images_gbit": images_gbit,
        "upload_gbit": upload_gbit,
    }


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def render(cost: Mapping[str, Any], source: str) -> str:
    m = model(cost)
    util = assumption("cpu_utilisation")
    out = [
        "# Capacity model", "",
        f"<!-- Generated by `./photomesh bench capacity` from {source}; edit bench/capacity.py "
        "(its ASSUMPTIONS), not this file. -->", "",
        "What the seeds' scale needs — 500M daily users, 80,000 feed reads/s, 800 post "
        "writes/s, 100M photos a day — worked out from what this code costs, measured by "
        f"`./photomesh bench cost` on {cost['date']} (commit `{cost['git']['commit'][:10]}`, "
        f"{cost['machine']['cores']} cores, load average {cost['start_load_average']:.1f} at "
        "the start: a shared, busy machine, so the CPU figures are upper bounds). Measured "
        "inputs come from that JSON; every other number is an assumption listed at the end "
        "with its reason. Rates are peaks.", "",
        "## Service cores", "",
        "CPU per call of our processes (services, workers, the edge), net of idle, times the "
        f"peak rate; sized at {util:.0%} busy per core.", "",
        "| operation | peak calls/s | where the rate comes from | our CPU ms/call (measured) "
        "| busy cores |", "|---|--:|---|--:|--:|"]
    for line in m["lines"]:
        load = line["load"]
        out.append(f"| {load.title} | {_n(load.rate)} | {load.source} | "
                   f"{line['own_ms']:.2f} | {_n(line['cores'])} |")
    out += [f"| fan-out: timeline rows | {_n(m['rows_per_s'])} rows/s | 800 posts/s × "
            f"{assumption('mean_followers'):.0f} followers | {m['fan_us_per_row']:.1f} µs/row | "
            f"{_n(m['fan_cores'])} |",
            f"| media jobs: photos | {_n(m['photos_per_s'])} photos/s | 100M a day × "
            f"{assumption('peak_to_mean'):g} at peak | "
            f"{assumption('transcode_cpu_s_per_photo') * 1000:,.0f} (assumption) | "
            f"{_n(m['transcode_cores'])} |",
            f"| **total** | | | | **{_n(m['busy_cores'])} busy → {_n(m['cores'])} cores** |", "",
            "By process (cores to provision, at the target utilisation):", "",
            "| process | cores |", "|---|--:|"]
    for name, cores in sorted(m["per_process"].items(), key=lambda kv: -kv[1]):
        if cores / util >= 0.5:
            out.append(f"| {name} | {_n(cores / util)} |")
    rf, quorum = assumption("replication_factor"), m["quorum"]
    out += [
        "", "## ScyllaDB", "",
        "CQL statements per call as the coordinator counted them on the run's keyspace "
        "(exact), times the peak rates; a fanned-out timeline row is one mutation (rows are "
        f"written in unlogged batches). Each write lands on {rf:.0f} replicas, each QUORUM read "
        f"on {quorum}.", "",
        "| | per second |", "|---|--:|",
        f"| CQL reads (statements) | {_n(m['cql_reads'])} |",
        f"| CQL writes (statements and timeline rows) | {_n(m['cql_writes'])} |",
        f"| replica operations | {_n(m['replica_ops'])} |", "",
        f"Throughput: {_n(m['ops_nodes'], 1)} nodes of {assumption('scylla_cores_per_node'):.0f} "
        f"vCPU at {assumption('scylla_ops_per_core'):,.0f} ops/s per core and {util:.0%} busy. "
        f"Disk: timelines {m['timeline_tb']:,.1f} TB (rows × {assumption('timeline_ttl_days'):.0f}"
        f" days × {assumption('timeline_row_bytes'):.0f} B × RF), posts {m['posts_tb_year']:,.1f}"
        f" TB a year, {m['disk_nodes']:,.1f} nodes at {assumption('scylla_disk_per_node_tb')} TB, "
        f"half full. **{m['scylla_nodes']} ScyllaDB nodes** (a multiple of 3, one rack per "
        "zone), the larger of the two.", "",
        "## NATS JetStream", "",
        f"Messages per call as stored in the run's streams, times the rates, plus fan-out "
        f"tasks: **{_n(m['nats_msgs'])} messages/s** → **{m['nats_nodes']} servers** (R3 "
        f"streams, {assumption('nats_msgs_per_node'):,.0f} msgs/s per server; at least one "
        "cluster of 3).", "",
        "## Redis memory", "",
        "| what | GB |", "|---|--:|",
        f"| cached timelines: {assumption('active_user_share'):.0%} of daily users × "
        f"{assumption('cached_timeline_entries'):.0f} entries × "
        f"{assumption('redis_entry_bytes'):.0f} B | {_n(m['timelines_gb'])} |",
        f"| post cards: {assumption('card_days'):.0f} days of posts × {m['card_bytes']:,.0f} B "
        f"(a 20-item page measured at {cost['operations'][0]['response_bytes']:,} B) | "
        f"{_n(m['cards_gb'])} |",
        f"| **total** with ×{assumption('redis_overhead')} overhead | **{_n(m['redis_gb'])}** |",
        "", "Spread over a Redis Cluster (e.g. 25 GB per shard, each with a replica).", "",
        "## MinIO", "",
        f"100M photos a day × {assumption('photo_bytes') / 1e6:.1f} MB = "
        f"**{m['minio_tb_day']:,.0f} TB a day** of objects, **{m['minio_raw_pb_year']:,.1f} PB "
        f"of raw disk a year** with erasure coding (×{assumption('minio_erasure_overhead')}).", "",
        "## Bandwidth", "",
        "| flow | Gbit/s at peak |", "|---|--:|",
        f"| feed pages out, gRPC ({cost['operations'][0]['response_bytes']:,} B a page) | "
        f"{_n(m['feed_gbit'], 1)} |",
        f"| the same as REST JSON | {_n(m['feed_rest_gbit'], 1)} |",
        f"| images out ({assumption('image_views_per_feed_read'):.0f} per page × "
        f"{assumption('image_view_bytes') / 1e3:.0f} kB; a CDN's job) | {_n(m['images_gbit'])} |",
        f"| uploads in ({assumption('upload_bytes') / 1e6:.1f} MB each, at "
        f"{_n(SCALE['photos_per_day'] * assumption('peak_to_mean') / 86400)} photos/s peak) | "
        f"{_n(m['upload_gbit'], 1)} |", "",
        "## Assumptions", "",
        "| name | value | why |", "|---|--:|---|"]
    for name, a in ASSUMPTIONS.items():
        out.append(f"| `{name}` | {a.value:,g} {a.unit} | {a.why} |")
    out += ["", "## Rerun", "",
            "```sh",
            "./photomesh bench cost                 # on a quiet machine: bench/results/cost.json",
            "./photomesh bench capacity --json bench/results/cost.json   # this document from it",
            "```", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="photomesh bench capacity",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, default=RESULTS / "cost-after.json",
                   help="a `bench cost` result (default: the published one)")
    p.add_argument("--out", type=Path, default=DOC)
    args = p.parse_args(argv)
    cost = json.loads(args.json.read_text())
    try:
        source = str(args.json.resolve().relative_to(REPO))
    except ValueError:
        source = str(args.json)
    args.out.write_text(render(cost, source))
    m = model(cost)
    print(f"wrote {args.out}: {m['cores']:,.0f} service cores, {m['scylla_nodes']} ScyllaDB "
          f"nodes, {m['nats_nodes']} NATS servers, {m['redis_gb']:,.0f} GB Redis, "
          f"{m['minio_tb_day']:,.0f} TB/day of objects")


if __name__ == "__main__":
    main()
