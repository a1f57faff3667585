"""The cost benchmark's printed tables, from its result dicts (the same whether the run just
happened or was read back from bench/results/cost.json)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.cost.targets import verdicts

Result = Mapping[str, Any]
SHOWN_PROCESSES = 0.005  # ms/op: smaller shares are summed as "the rest"


def _row(label: str, ops: object = "", p50: object = "", p99: object = "", cpu: object = "",
         note: str = "") -> str:
    return f"  {label:<34}{ops!s:>10}{p50!s:>10}{p99!s:>10}{cpu!s:>15}   {note}".rstrip()


def _n(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def processes(result: Result, key: str = "cpu_ms_per_op") -> list[tuple[str, float]]:
    """(process, ms/op) of the mesh, most expensive first."""
    shares = result[key]["processes"]
    return sorted(shares.items(), key=lambda kv: -kv[1])


def operation_table(result: Result) -> str:
    load = result["load"]
    size = f"{result['response_bytes']:,} B protobuf"
    if result.get("rest_response_bytes"):
        size += f", {result['rest_response_bytes']:,} B JSON"
    lines = [f"{result['title']}  (concurrency {result['concurrency']}, {load['ok']:,} calls "
             f"OK in {load['seconds']:.1f} s via {result['via']}, {load['tool']}; {size})",
             _row("", "ops/s", "p50 ms", "p99 ms", "CPU ms/op")]
    checks = {v.target.figure: v.text for v in verdicts(result["key"], result)}
    cpu = result["cpu_ms_per_op"]
    lines.append(_row("mesh (every process)", _n(load["throughput_per_s"], 1),
                      _n(load["p50_ms"]), _n(load["p99_ms"]),
                      f"{_n(cpu['mesh'])} ±{_n(cpu.get('uncertainty', 0.0))}",
                      "; ".join(checks.get(f, "") for f in ("cpu", "p50", "p99")
                                if f in checks)))
    if "own" in cpu:
        lines.append(_row("  services, workers, edge (ours)", cpu=_n(cpu["own"])))
        lines.append(_row("  shared backends, net of idle", cpu=_n(cpu["shared_backends"]),
                          note="noisy: other people's load (see background)"))
    rest = 0.0
    spread = cpu.get("process_uncertainty") or {}
    for name, ms in processes(result):
        if abs(ms) >= SHOWN_PROCESSES:
            error = spread.get(name, 0.0)
            lines.append(_row(f"    {name}", cpu=_n(ms) + (f" ±{_n(error)}" if error >= 0.01
                                                           else "")))
        else:
            rest += ms
    if abs(rest) >= SHOWN_PROCESSES:
        lines.append(_row("    the rest", cpu=_n(rest)))
    base = result.get("baseline")
    if base:
        bl = base["load"]
        lines.append(_row("bare grpc.aio (the floor)", _n(bl["throughput_per_s"], 1),
                          _n(bl["p50_ms"]), _n(bl["p99_ms"]), _n(base["cpu_ms_per_op"]),
                          "server CPU"))
        ratios = result.get("ratios") or {}
        tput = ratios.get("throughput")
        cpu = ratios.get("cpu")
        lines.append(_row("mesh / bare", f"{tput:.3f}x" if tput is not None else "-", "", "",
                          f"{cpu:.1f}x" if cpu is not None else "-",
                          checks.get("throughput_ratio", "")))
        lines.append(f"  floor: {base['what']}")
    lines.append(f"  load generator ({load['tool']}): {_n(result['loadgen_cpu_ms_per_op'], 3)} "
                 f"ms CPU per call, its own process, not charged to the mesh"
                 + (f"; {_n(base['loadgen_cpu_ms_per_op'], 3)} ms against the floor"
                    if base else ""))
    for name, ms in (result.get("apart_cpu_ms_per_op") or {}).items():
        lines.append(f"  {name}: {_n(ms, 3)} ms CPU per call, not charged to the mesh")
    if result.get("backend_ops_per_call"):
        lines.append("  " + backend_ops_line(result["backend_ops_per_call"], "call"))
    if load.get("errors"):
        lines.append(f"  errors: {load['errors']}")
    lines.append("  " + background_line(result))
    return "\n".join(lines)


def backend_ops_line(ops: Result, per: str) -> str:
    """The exact backend work per call: CQL statements and NATS messages of the run."""
    top = sorted(ops["by_name"].items(), key=lambda kv: -kv[1])[:4]
    return (f"backends per {per} (counted, this run's keyspace and streams only): CQL "
            f"{ops['cql_reads']:g} reads, {ops['cql_writes']:g} writes, {ops['cql_scans']:g} "
            f"scans; NATS {ops['nats_messages']:g} messages"
            + (" (" + ", ".join(f"{k} {v:g}" for k, v in top) + ")" if top else ""))


def background_line(result: Result) -> str:
    bg = result["background"]
    idle = bg["idle_cores"]
    top = sorted(idle.items(), key=lambda kv: -kv[1])[:3]
    text = (f"background: idle rates subtracted {sum(idle.values()):.3f} cores ("
            + ", ".join(f"{n} {v:.3f}" for n, v in top) + f"); other processes "
            f"{bg['others_cores_idle']:.2f} cores before, {bg['others_cores_run']:.2f} during")
    if bg["noisy"]:
        text += "\n  WARNING: noisy background: " + "; ".join(bg["noisy"])
    return text


def summary_table(results: Sequence[Result]) -> str:
    head = (f"{'operation':<30}{'mesh CPU ms':>12}{'ours':>7}{'ops/s':>9}{'p50 ms':>9}"
            f"{'p99 ms':>9}"
            f"{'bare ops/s':>11}{'bare CPU':>9}{'tput x':>8}{'CPU x':>8}  biggest shares")
    lines = [head, "-" * len(head)]
    for r in results:
        base = r.get("baseline") or {}
        ratios = r.get("ratios") or {}
        top = ", ".join(f"{n} {ms:.2f}" for n, ms in processes(r)[:3])
        lines.append(
            f"{r['title'][:29]:<30}{r['cpu_ms_per_op']['mesh']:>12.2f}"
            f"{r['cpu_ms_per_op'].get('own', float('nan')):>7.2f}"
            f"{r['load']['throughput_per_s']:>9.1f}{r['load']['p50_ms']:>9.1f}"
            f"{r['load']['p99_ms']:>9.1f}"
            f"{base.get('load', {}).get('throughput_per_s', float('nan')):>11.0f}"
            f"{base.get('cpu_ms_per_op', float('nan')):>9.2f}"
            f"{ratios.get('throughput') or float('nan'):>8.3f}"
            f"{ratios.get('cpu') or float('nan'):>8.1f}  {top}")
    return "\n".join(lines)


def levels_table(levels: Sequence[Result]) -> str:
    lines = [f"{'concurrency':>11}  {'transport':<6}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'CPU ms':>9}{'bare ops/s':>11}{'bare p50':>9}{'bare p99':>9}"]
    for level in levels:
        for name in ("grpc", "rest"):
            r = level.get(name)
            if not r:
                continue
            b = r["baseline"]["load"]
            lines.append(f"{level['concurrency']:>11}  {name:<6}"
                         f"{r['load']['throughput_per_s']:>9.1f}{r['load']['p50_ms']:>9.1f}"
                         f"{r['load']['p99_ms']:>9.1f}"
                         f"{r['cpu_ms_per_op']['mesh']:>9.2f}{b['throughput_per_s']:>11.0f}"
                         f"{b['p50_ms']:>9.2f}{b['p99_ms']:>9.2f}")
    return "\n".join(lines)


def fanout_text(fanout: Result) -> str:
    shares = sorted(fanout["cpu_us_per_row"]["processes"].items(), key=lambda kv: -kv[1])
    verdict = verdicts("fanout", fanout)
    ops = fanout.get("backend_ops_per_row")
    return (f"fan-out worker: {fanout['rows_per_s']:,.0f} timeline rows/s ({fanout['tasks']} "
            f"tasks x {fanout['recipients_per_task']} recipients in {fanout['seconds']:.2f} s); "
            f"mesh CPU {fanout['cpu_us_per_row']['mesh']:.1f} us per row ("
            + ", ".join(f"{n} {v:.1f}" for n, v in shares[:4] if abs(v) >= 0.05) + ")"
            + (f"\n  {backend_ops_line(ops, 'row')}" if ops else "")
            + (f"\n  {verdict[0].text}" if verdict else ""))


def tracing_text(tracing: Result, default: Result | None) -> str:
    exported = tracing["exported"]
    lines = [f"tracing: {exported['title']} (every span at ratio {tracing['sample_ratio']}, "
             f"to an OTLP receiver in its own process: {tracing.get('spans_received', '?')} "
             f"spans received)"]
    lines.append(operation_table(exported))
    if default:
        ex, de = exported["cpu_ms_per_op"], default["cpu_ms_per_op"]
        lines.append(f"  tracing costs {ex['own'] - de['own']:+.2f} ms of our processes' CPU "
                     f"per call ({ex['own']:.2f} exported vs {de['own']:.2f} with the default "
                     f"settings: no exporter; the whole mesh {ex['mesh']:.2f} vs "
                     f"{de['mesh']:.2f}); p99 {exported['load']['p99_ms']:.1f} vs "
                     f"{default['load']['p99_ms']:.1f} ms")
    return "\n".join(lines)


def targets_text(results: Result) -> str:
    """Every target of the issue with the figure measured against it."""
    found = {r["key"]: r for r in results["operations"]}
    if results.get("fanout"):
        found["fanout"] = results["fanout"]
    lines = ["targets (issue 10):"]
    for key, result in found.items():
        for verdict in verdicts(key, result):
            title = result.get("title", "fan-out worker")
            lines.append(f"  {'met   ' if verdict.met else 'MISSED'}  {title}: {verdict.text}")
    return "\n".join(lines)


__all__ = ["fanout_text", "levels_table", "operation_table", "processes", "summary_table",
           "targets_text", "tracing_text"]
