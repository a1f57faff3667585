"""CPU per operation of a private mesh, read from /proc (utime + stime of each process).

    meter = CpuMeter.of(mesh)          # the mesh's service processes and the backends
    before = meter.sample()
    ... run N operations ...
    print(meter.report(before, meter.sample(), N, "like"))

The backends (Cassandra, Redis, NATS) are shared with whatever else runs on the machine:
`background` measures what they use while this mesh is idle, and `report` subtracts that
rate over the measured interval (``-bg`` in its output; the raw sum is printed too). The
load average is printed beside the figures, and the bench's own process is reported on a
line of its own (not mesh CPU).
A minimal helper, meant to be folded into a general cost benchmark later.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from infra import services as mesh_services
from infra.sandbox import Mesh
from infra.settings import InfraSettings

BACKENDS = ("cassandra", "redis", "nats")
CLIENT = "bench client"
WALL = "wall"
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of stat(5)


def _pid_from(pid_file: Path) -> int | None:
    """The pid a pid file names (first line), read only: the file is not ours to fix."""
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


@dataclass(frozen=True)
class CpuMeter:
    """Named processes whose CPU is summed over an interval."""

    pids: dict[str, int]

    @classmethod
    def of(cls, mesh: Mesh, backends: InfraSettings | None = None) -> CpuMeter:
        pids: dict[str, int] = {}
        for name in mesh_services.SERVICES:
            pid = _pid_from(mesh.settings.pid_dir / f"svc-{name}.pid")
            if pid is not None:
                pids[name] = pid
        shared = (backends or InfraSettings()).pid_dir
        for name in BACKENDS:
            pid = _pid_from(shared / f"{name}.pid")
            if pid is not None:
                pids[name] = pid
        return cls(pids)

    def sample(self) -> dict[str, float]:
        sample = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        times = os.times()
        sample[CLIENT] = times.user + times.system
        sample[WALL] = time.monotonic()
        return sample

    async def background(self, seconds: float = 2.0) -> dict[str, float]:
        """CPU-seconds per second the shared backends use while this mesh is idle."""
        before = self.sample()
        await asyncio.sleep(seconds)
        after = self.sample()
        elapsed = after[WALL] - before[WALL]
        return {name: max(0.0, (after[name] - before[name]) / elapsed)
                for name in BACKENDS if name in after}

    @staticmethod
    def per_op_ms(before: dict[str, float], after: dict[str, float], ops: int,
                  background: dict[str, float] | None = None) -> dict[str, float]:
        """CPU-ms per operation of each process that used any (the client included),
        less the `background` rate of the shared backends over the interval."""
        elapsed = after[WALL] - before[WALL]
        used = {name: after[name] - before[name] - (background or {}).get(name, 0.0) * elapsed
                for name in after if name != WALL}
        return {name: v * 1000 / ops for name, v in used.items() if v > 0 and ops}

    def report(self, before: dict[str, float], after: dict[str, float], ops: int,
               what: str, background: dict[str, float] | None = None) -> str:
        raw = self.mesh_ms(before, after, ops)
        per_op = self.per_op_ms(before, after, ops, background)
        mesh = sum(v for k, v in per_op.items() if k != CLIENT)
        parts = ", ".join(f"{k} {v:.2f}" for k, v in
                          sorted(per_op.items(), key=lambda kv: -kv[1]) if k != CLIENT)
        load = os.getloadavg()
        bg = ", ".join(f"{k} {v * 100:.0f}%" for k, v in (background or {}).items())
        return (f"{what}: mesh CPU {mesh:.2f} ms/op over {ops} ops ({parts}); "
                f"raw {raw:.2f} ms/op before -bg ({bg}); "
                f"{CLIENT} {per_op.get(CLIENT, 0.0):.2f} ms/op; "
                f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    @staticmethod
    def mesh_ms(before: dict[str, float], after: dict[str, float], ops: int,
                background: dict[str, float] | None = None) -> float:
        return sum(v for k, v in CpuMeter.per_op_ms(before, after, ops, background).items()
                   if k != CLIENT)


__all__ = ["CpuMeter", "cpu_seconds"]
