"""The targets of issue 10, on this 2-core machine with the whole stack running, and how a
measured figure stands against each (met, or missed by how much)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    key: str        # an operation's key, or "fanout" for the fan-out worker
    figure: str     # "cpu", "p50", "p99", "throughput_ratio", "rows_per_s"
    limit: float
    at_most: bool   # the figure must be <= limit (else >=)

    @property
    def text(self) -> str:
        what = {"cpu": "mesh CPU", "p50": "p50", "p99": "p99",
                "throughput_ratio": "throughput vs bare", "rows_per_s": "rows/s"}[self.figure]
        return f"{what} {'<=' if self.at_most else '>='} {_fmt(self.limit, self.unit)}"

    @property
    def unit(self) -> str:
        return {"throughput_ratio": "x", "rows_per_s": "/s"}.get(self.figure, " ms")


TARGETS: tuple[Target, ...] = (
    Target("feed_grpc", "cpu", 2.5, True),
    Target("feed_grpc", "throughput_ratio", 0.35, False),
    Target("feed_grpc", "p99", 25.0, True),
    Target("feed_rest", "cpu", 5.0, True),
    Target("feed_rest", "throughput_ratio", 0.35, False),
    Target("feed_rest", "p99", 25.0, True),
    Target("get_post", "cpu", 1.5, True),
    Target("list_notifications", "cpu", 2.5, True),
    Target("like_post", "cpu", 8.0, True),
    Target("create_post_c1", "p50", 15.0, True),
    Target("fanout", "rows_per_s", 20_000.0, False),
)


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.3g}x"
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:.3g}{unit}"


def figure(result: Mapping[str, Any], name: str) -> float:
    """A figure of an operation's (or the fan-out worker's) result."""
    if name == "cpu":
        return float(result["cpu_ms_per_op"]["mesh"])
    if name in ("p50", "p99"):
        return float(result["load"][f"{name}_ms"])
    if name == "throughput_ratio":
        ratio = (result.get("ratios") or {}).get("throughput")
        return float(ratio) if ratio is not None else math.nan
    return float(result[name])


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float

    @property
    def met(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value <= self.target.limit if self.target.at_most \
            else self.value >= self.target.limit

    @property
    def text(self) -> str:
        t = self.target
        if math.isnan(self.value):
            return f"{t.text}: not measured"
        if self.met:
            return f"{t.text}: met ({_fmt(self.value, t.unit)})"
        gap = abs(self.value - t.limit)
        factor = self.value / t.limit if t.at_most else t.limit / max(self.value, 1e-9)
        return f"{t.text}: missed by {_fmt(gap, t.unit)} ({factor:.1f}x off)"


def verdicts(key: str, result: Mapping[str, Any]) -> list[Verdict]:
    return [Verdict(t, figure(result, t.figure)) for t in TARGETS if t.key == key]


__all__ = ["TARGETS", "Target", "Verdict", "figure", "verdicts"]
