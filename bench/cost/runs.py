"""One measured run of an operation: load from another process, CPU of every mesh process
from /proc, and the bare floor measured the same way right after.

A run:
1. warm-up calls (not measured), then wait until the mesh is back to idle;
2. a few seconds of idle: each process's background rate (the shared backends serve other
   people's tests too);
3. the load (ghz or wrk: closed loop, gated by count and time), then wait until the work it
   triggered (events, fan-out, notifications) is done: our own processes back to idle;
4. a few seconds of idle again; CPU per process over 3, net of the mean idle rate of 2 and
   4, divided by the calls answered OK, with an uncertainty from how the idle rate wanders
   (`Idle.uncertainty`). The mesh's figure is our own processes (services, workers, edge)
   plus the shared backends, a backend's negative net share (noise) counted as nothing;
5. the baseline: a bare grpc.aio server (bench/measure/bare_server.py) answering the same
   method with the response recorded from the mesh, loaded by ghz the same way.

`Runner.run` returns the figures as a plain dict (what bench/results/cost.json holds).
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory

from bench.cost.mesh_processes import is_backend
from bench.cost.operations import Operation, Plan
from bench.cost.population import Population
from bench.measure.backend_ops import BackendOps
from bench.measure.bare_server import bare_server
from bench.measure.cpu import CpuMeter, CpuUse, load_average, noise
from bench.measure.fanout import publish_fanout_tasks
from bench.measure.ghz import run_ghz
from bench.measure.load import LoadReport
from bench.measure.wrk import run_wrk

BENCH = "bench (driver and load generators)"  # watched for the machine's balance, not mesh
WARMUP_TIMEOUT = 60.0
BASELINE_WARMUP = 200
BASELINE_MAX_CALLS = 1_000_000


@dataclass(frozen=True)
class Idle:
    """Idle rates sampled before and after a run: their mean is subtracted, half their
    difference is how far off that may be (the shared backends serve others too)."""

    before: CpuUse
    after: CpuUse

    @property
    def rates(self) -> dict[str, float]:
        b, a = self.before.rates, self.after.rates
        return {n: (b[n] + a[n]) / 2 for n in b}

    @property
    def spread(self) -> dict[str, float]:
        b, a = self.before.rates, self.after.rates
        return {n: abs(b[n] - a[n]) / 2 for n in b}

    @property
    def others_cores(self) -> float:
        return max(self.before.others_cores, self.after.others_cores)

    def uncertainty(self, name: str, window: float) -> float:
        """CPU seconds a process's net figure over `window` may be off by: the background
        wandering during the run and in the idle samples (steps taken as independent), and
        its drift from before to after."""
        steps = (self.before.step_rates or {}).get(name, []) + \
            (self.after.step_rates or {}).get(name, [])
        step = self.before.step or 0.5
        sampled = len(steps) * step
        jitter = statistics.pstdev(steps) if len(steps) > 1 else 0.0
        variance = jitter ** 2 * step * (1 / max(window, step) + 1 / max(sampled, step))
        return window * math.sqrt(variance + self.spread[name] ** 2)


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 8
    duration: float = 10.0  # seconds per measured run, at most
    count: int = 5000       # calls per measured run, at most
    warmup: int = 40        # calls before each run, not measured
    idle_seconds: float = 3.0
    baseline_duration: float = 5.0


def _ms_per_op(seconds: Mapping[str, float], ops: int) -> dict[str, float]:
    return {n: round(v * 1000 / ops, 4) if ops else float("nan") for n, v in seconds.items()}


def _request_class(method: str) -> type:
    # The generated modules register their descriptors when imported.
    import photomesh.discovery.v1.explore_service_pb2  # noqa: F401
    import photomesh.discovery.v1.search_service_pb2  # noqa: F401
    import photomesh.feed.v1.feed_service_pb2  # noqa: F401
    import photomesh.graph.v1.social_graph_service_pb2  # noqa: F401
    import photomesh.notification.v1.notification_service_pb2  # noqa: F401
    import photomesh.post.v1.post_service_pb2  # noqa: F401
    import photomesh.story.v1.story_service_pb2  # noqa: F401

    service, name = method.split("/")
    found = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    return message_factory.GetMessageClass(found.input_type)


class Runner:
    """Measures operations against one private mesh behind one private edge."""

    def __init__(self, *, ghz: Path, wrk: Path, edge_target: str,
                 mesh_pids: Mapping[str, int], population: Population,
                 settings: RunSettings, backend_ops: BackendOps | None = None) -> None:
        self.ghz, self.wrk = ghz, wrk
        self.backend_ops = backend_ops
        self.edge_target = edge_target
        self.population = population
        self.settings = settings
        self.samples: dict[str, bytes] = {}
        self.rest_sizes: dict[str, int] = {}
        self.watch(mesh_pids)
        self.last_idle = self.meter.idle(settings.idle_seconds).rates
        self.start_load_average = load_average()

    def watch(self, mesh_pids: Mapping[str, int]) -> None:
        """The mesh's processes by name (again after a restart)."""
        self.mesh_names = list(mesh_pids)
        # Ours alone (not the shared backends): idle again means the load's work is done.
        self.private_names = [n for n in mesh_pids if not is_backend(n)]
        self.meter = CpuMeter({**mesh_pids, BENCH: os.getpid()})

    # --- calls ---------------------------------------------------------------------------

    def call_once(self, op: Operation) -> bytes:
        """One real call through the edge (gRPC); its serialized response."""
        plan = op.plan(self.population, 1)
        request = json_format.ParseDict(plan.messages[0], _request_class(op.method)())
        with grpc.insecure_channel(self.edge_target) as channel:
            call = channel.unary_unary(op.path, request_serializer=lambda m: m.SerializeToString())
            reply: bytes = call(request, metadata=(("authorization", f"Bearer {plan.tokens[0]}"),),
                                timeout=30)
        if op.transport == "rest":
            method, path, token = plan.rest[0]
            http = urllib.request.Request(f"http://{self.edge_target}{path}", method=method,
                                          headers={"authorization": f"Bearer {token}"})
            with urllib.request.urlopen(http, timeout=30) as answer:
                self.rest_sizes[op.key] = len(answer.read())
        return reply

    def _load(self, op: Operation, plan: Plan, concurrency: int, duration: float,
              count: int) -> LoadReport:
        if op.transport == "rest":
            return run_wrk(self.wrk, f"http://{self.edge_target}", plan.rest,
                           concurrency=concurrency, duration=duration, count=count)
        return run_ghz(self.ghz, self.edge_target, op.method, plan.messages,
                       tokens=plan.tokens, concurrency=concurrency, duration=duration,
                       count=count, cycle=plan.cycle)

    # --- a run ---------------------------------------------------------------------------

    def run(self, op: Operation, *, concurrency: int | None = None,
            duration: float | None = None, count: int | None = None,
            warmup: int | None = None, baseline: bool = True,
            baseline_duration: float | None = None, apart: Mapping[str, int] | None = None,
            tail_seconds: float = 0.0, idle_seconds: float | None = None
            ) -> dict[str, object]:
        """Measure `op`; `apart` names processes whose CPU is reported on their own (an
        OTLP collector), never in the mesh's sum; `tail_seconds` more are counted after
        the mesh is idle again (work done on a timer, such as exporting spans)."""
        s = self.settings
        concurrency = concurrency or op.concurrency or s.concurrency
        duration = duration or s.duration
        count = count or s.count
        warmup = s.warmup if warmup is None else warmup
        if op.key not in self.samples:
            self.samples[op.key] = self.call_once(op)
        if warmup:
            self._load(op, op.plan(self.population, warmup), min(concurrency, warmup),
                       WARMUP_TIMEOUT, warmup)
        self.meter.settle(self.last_idle, names=self.private_names)

        idle_seconds = idle_seconds or s.idle_seconds
        idle_before = self.meter.idle(idle_seconds)
        plan = op.plan(self.population, count)
        if plan.calls is not None:
            count = plan.calls
        if count < concurrency:
            raise RuntimeError(f"{op.title}: only {count} new calls left in its pool")
        apart_meter = CpuMeter(apart) if apart else None
        apart_before = apart_meter.snapshot() if apart_meter else None
        ops_before = self.backend_ops.snapshot() if self.backend_ops else None
        before = self.meter.snapshot()
        report = self._load(op, plan, concurrency, duration, count)
        settle = self.meter.settle(idle_before.rates, names=self.private_names)
        if tail_seconds:
            time.sleep(tail_seconds)
        end = self.meter.snapshot()
        ops_after = self.backend_ops.snapshot() if self.backend_ops else None
        apart_use = apart_meter.since(apart_before) if apart_meter and apart_before else None
        idle_after = self.meter.idle(idle_seconds)
        idle = Idle(idle_before, idle_after)
        use = self.meter.since(before, idle.rates, after=end)
        self.last_idle = idle_after.rates
        figures = self._figures(op, concurrency, report, use, idle, settle)
        if ops_before is not None and ops_after is not None:
            figures["backend_ops_per_call"] = BackendOps.per_call(ops_before, ops_after,
                                                                  report.ok)
        if apart_use is not None:
            figures["apart_cpu_ms_per_op"] = _ms_per_op(apart_use.gross, report.ok)
        if baseline:
            figures["baseline"] = self.baseline(op, plan, concurrency,
                                                baseline_duration or s.baseline_duration)
            self.ratios(figures)
        return figures

    def _figures(self, op: Operation, concurrency: int, report: LoadReport, use: CpuUse,
                 idle: Idle, settle: float) -> dict[str, object]:
        ops = report.ok
        own = {n: use.net[n] for n in self.private_names}
        shared = {n: use.net[n] for n in self.mesh_names if is_backend(n)}
        mesh_net = {n: use.net[n] for n in self.mesh_names}
        mesh_gross = {n: use.gross[n] for n in self.mesh_names}
        errors = {n: idle.uncertainty(n, use.seconds) for n in self.mesh_names}
        idle_rates = {n: round(idle.rates[n], 4) for n in self.mesh_names}
        reasons = noise(idle_rates, idle.others_cores)
        if use.others_cores > 0.25:
            reasons.append(f"other processes used {use.others_cores:.2f} cores during the run")
        squeezed = idle.others_cores - use.others_cores
        if squeezed > 0.2:
            reasons.append(f"the machine was saturated: other processes got {squeezed:.2f} "
                           f"cores less during the run, so other people's load on the shared "
                           f"backends likely shrank too and their net figures read low")

        def per_op(seconds: float) -> float:
            return round(seconds * 1000 / ops, 4) if ops else float("nan")

        return {
            "key": op.key, "title": op.title, "method": op.method,
            "transport": op.transport, "via": "edge (Envoy)", "concurrency": concurrency,
            "response_bytes": len(self.samples[op.key]),
            "rest_response_bytes": self.rest_sizes.get(op.key),
            "load": report.summary(),
            # The mesh: our processes plus the shared backends, where a negative net share
            # (noise: a process cannot spend less than nothing on our calls) counts as 0.
            "cpu_ms_per_op": {"mesh": per_op(sum(own.values())
                                             + sum(max(0.0, v) for v in shared.values())),
                              "own": per_op(sum(own.values())),
                              "shared_backends": per_op(sum(shared.values())),
                              "uncertainty": per_op(math.sqrt(sum(e ** 2
                                                                  for e in errors.values()))),
                              "processes": _ms_per_op(mesh_net, ops),
                              "process_uncertainty": _ms_per_op(errors, ops)},
            "gross_cpu_ms_per_op": {"mesh": per_op(sum(mesh_gross.values())),
                                    "processes": _ms_per_op(mesh_gross, ops)},
            "loadgen_cpu_ms_per_op": per_op(report.client_cpu_s),
            "window_seconds": round(use.seconds, 3), "settle_seconds": round(settle, 3),
            "background": {"idle_cores": idle_rates,
                           "idle_cores_spread": {n: round(idle.spread[n], 4)
                                                 for n in self.mesh_names},
                           "others_cores_idle": round(idle.others_cores, 3),
                           "others_cores_run": round(use.others_cores, 3),
                           "noisy": reasons},
        }

    def baseline(self, op: Operation, plan: Plan, concurrency: int, duration: float
                 ) -> dict[str, object]:
        """The bare floor for `op`: the same method and response bytes, no mesh."""
        payload = self.samples[op.key]
        with bare_server(payload, [op.path]) as bare:
            def load(count: int, duration: float) -> LoadReport:
                return run_ghz(self.ghz, bare.target, op.method, plan.messages or [{}],
                               tokens=plan.tokens or [""], concurrency=concurrency,
                               duration=duration, count=count, cycle=True)
            load(BASELINE_WARMUP, WARMUP_TIMEOUT)
            meter = CpuMeter({"bare server": bare.pid})
            before = meter.snapshot()
            report = load(BASELINE_MAX_CALLS, duration)
            use = meter.since(before)
        what = (f"bare grpc.aio unary server (uvloop, no interceptors, own process) answering "
                f"{op.method.split('/')[1]} with the same {len(payload):,} protobuf bytes, "
                f"direct, ghz at concurrency {concurrency}")
        if op.transport == "rest":
            what += " (gRPC: the floor of the same page without the edge's JSON transcoding)"
        return {"what": what, "response_bytes": len(payload), "load": report.summary(),
                "cpu_ms_per_op": round(use.gross["bare server"] * 1000 / report.ok, 4)
                if report.ok else float("nan"),
                "loadgen_cpu_ms_per_op": round(report.client_cpu_s * 1000 / report.ok, 4)
                if report.ok else float("nan")}

    @staticmethod
    def ratios(figures: dict[str, object]) -> None:
        """Throughput and CPU per call of the mesh against its floor."""
        load, base = figures["load"], figures["baseline"]  # type: ignore[index]
        cpu, base_cpu = figures["cpu_ms_per_op"]["mesh"], base["cpu_ms_per_op"]  # type: ignore[index]
        figures["ratios"] = {
            "throughput": round(load["throughput_per_s"] / base["load"]["throughput_per_s"], 4)  # type: ignore[index]
            if base["load"]["throughput_per_s"] else None,  # type: ignore[index]
            "cpu": round(cpu / base_cpu, 2) if base_cpu else None}

    # --- the fan-out worker --------------------------------------------------------------

    def fanout(self, env: Mapping[str, str], tasks: int, recipients: int) -> dict[str, object]:
        """Timeline rows/s of the fan-out worker and the mesh CPU per row."""
        self.meter.settle(self.last_idle, names=self.mesh_names)
        idle = self.meter.idle(self.settings.idle_seconds)
        ops_before = self.backend_ops.snapshot() if self.backend_ops else None
        before = self.meter.snapshot()
        rows, seconds = asyncio.run(publish_fanout_tasks(env, tasks, recipients))
        self.meter.settle(idle.rates, names=self.private_names)
        use = self.meter.since(before, idle.rates)
        per_row = {n: round(use.net[n] * 1e6 / rows, 3) for n in self.mesh_names}
        own = sum(per_row[n] for n in self.private_names)
        shared = sum(max(0.0, per_row[n]) for n in self.mesh_names if is_backend(n))
        found = {}
        if ops_before is not None and self.backend_ops:
            found["backend_ops_per_row"] = BackendOps.per_call(
                ops_before, self.backend_ops.snapshot(), rows)
        return {**found,"tasks": tasks, "recipients_per_task": recipients, "rows": rows,
                "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1),
                "cpu_us_per_row": {"mesh": round(own + shared, 3), "own": round(own, 3),
                                   "processes": per_row},
                "background": {"idle_cores": {n: round(idle.rates[n], 4)
                                              for n in self.mesh_names},
                               "others_cores_run": round(use.others_cores, 3)}}


def settings_dict(settings: RunSettings) -> dict[str, object]:
    return asdict(settings)


__all__ = ["BENCH", "RunSettings", "Runner", "settings_dict"]
