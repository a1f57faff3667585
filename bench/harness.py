"""What every benchmark shares: timing, percentiles, closed-loop load, a printed table.

A benchmark measures an operation with `run_load` (N concurrent callers for a duration, or
a fixed count), gets a `Result` with throughput and p50/p99/max, and prints `table(...)`.
Where a comparison matters it measures a baseline in the same process and prints
`ratio(...)`. Numbers are printed, never asserted: tests check behaviour, benchmarks speed.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in [0, 100])."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


@dataclass
class Result:
    """Latencies (seconds) of one operation over a run of `elapsed` seconds."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else float("nan")

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000

    def summary(self) -> dict[str, float | int | str]:
        return {"name": self.name, "count": self.count, "errors": self.errors,
                "throughput_per_s": round(self.throughput, 1),
                "p50_ms": round(self.ms(50), 3), "p99_ms": round(self.ms(99), 3),
                "max_ms": round(max(self.latencies, default=float("nan")) * 1000, 3),
                "mean_ms": round(statistics.fmean(self.latencies) * 1000, 3)
                if self.latencies else float("nan")}


async def run_load(name: str, op: Callable[[int], Awaitable[object]], *, concurrency: int = 8,
                   duration: float | None = 10.0, count: int | None = None,
                   warmup: int = 20) -> Result:
    """Closed loop: `concurrency` callers run `op(i)` back to back until `duration` seconds
    pass or `count` calls are made. Failed calls count as errors, not latencies."""
    for i in range(warmup):
        await op(-1 - i)
    result = Result(name)
    next_index = 0
    deadline = None if duration is None else time.perf_counter() + duration

    async def caller() -> None:
        nonlocal next_index
        while True:
            if count is not None and next_index >= count:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            i = next_index
            next_index += 1
            t0 = time.perf_counter()
            try:
                await op(i)
            except Exception:  # noqa: BLE001 - counted and reported
                result.errors += 1
                continue
            result.latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - t0
    return result


def table(results: Sequence[Result], title: str = "") -> str:
    """A fixed-width table of the results (one row each)."""
    lines = [title] if title else []
    lines.append(f"{'operation':<34}{'count':>8}{'err':>6}{'ops/s':>10}{'p50 ms':>10}"
                 f"{'p99 ms':>10}{'max ms':>10}")
    for r in results:
        s = r.summary()
        lines.append(f"{r.name:<34}{s['count']:>8}{s['errors']:>6}{s['throughput_per_s']:>10}"
                     f"{s['p50_ms']:>10}{s['p99_ms']:>10}{s['max_ms']:>10}")
    return "\n".join(lines)


def ratio(measured: float, baseline: float, what: str) -> str:
    """``what: 0.42x baseline`` — measured/baseline of the same quantity."""
    value = measured / baseline if baseline else float("nan")
    return f"{what}: {value:.2f}x baseline ({measured:.1f} vs {baseline:.1f})"


def save_json(path: Path, results: Sequence[Result], **extra: object) -> None:
    """Write the summaries (and any extra figures) as JSON for the record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": [r.summary() for r in results], **extra},
                               indent=2, default=str))


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times (seconds) of `repeat` synchronous calls of `fn`."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


__all__ = ["Result", "percentile", "ratio", "run_load", "save_json", "table", "timed"]
