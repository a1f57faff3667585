"""CPU time of named processes, read from /proc, net of what they spend when idle.

A process's CPU is the utime+stime+cutime+cstime of its /proc/<pid>/stat summed over it and
every live descendant (a worker's process pool, a launcher's child) that is not watched
under a name of its own: a child that exits is still counted, through its parent's
cutime/cstime once reaped.

    meter = CpuMeter({"feed": 4242, "cassandra": 1717})
    idle = meter.idle(3.0).rates          # cores each spends while nothing is asked of it
    before = meter.snapshot()
    ...                                    # the load
    meter.settle(idle)                     # until work triggered by the load is done
    use = meter.since(before, idle)        # CPU seconds per process, idle rate subtracted

The machine is shared: `noise(...)` says why figures may be off (other processes busy,
watched processes busy while idle, a high load average).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TICK = 1.0 / os.sysconf("SC_CLK_TCK")
#: Above these the background is called noisy: other processes' CPU (cores), the watched
#: processes' own idle CPU (cores), the 1-minute load average per core.
NOISY_OTHERS_CORES = 0.25
NOISY_IDLE_CORES = 0.25
NOISY_LOAD_PER_CORE = 0.75


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime in ticks) of a live process, else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(b")") + 2:].split()  # the name may hold spaces and ')'
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def _all_processes() -> dict[int, tuple[int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return total - idle, total


def cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Snapshot:
    at: float
    ticks: dict[str, int]
    machine_busy: int


@dataclass
class CpuUse:
    """CPU over one window: seconds per process, gross and net of the idle rate."""

    seconds: float
    gross: dict[str, float]
    net: dict[str, float]
    idle_cores: dict[str, float]
    others_cores: float  # the rest of the machine, busy on something else
    #: Idle samples only: each process's rate (cores) over each step of the window.
    step_rates: dict[str, list[float]] | None = None
    step: float = 0.0

    @property
    def rates(self) -> dict[str, float]:
        """Gross cores per process over the window."""
        return {n: v / self.seconds for n, v in self.gross.items()} if self.seconds else {}

    def total(self, names: Iterable[str] | None = None, gross: bool = False) -> float:
        values = self.gross if gross else self.net
        return sum(values[n] for n in (names if names is not None else values))


class CpuMeter:
    """CPU snapshots of a fixed set of named processes (pid, with descendants)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)

    def snapshot(self) -> Snapshot:
        table = _all_processes()
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (ppid, _) in table.items():
            children[ppid].append(pid)
        roots = set(self.pids.values())
        ticks = {}
        for name, root in self.pids.items():
            total, todo = 0, [root]
            while todo:
                pid = todo.pop()
                if pid in table:
                    total += table[pid][1]
                    # A descendant watched under its own name is counted there only.
                    todo.extend(c for c in children.get(pid, ()) if c not in roots)
            ticks[name] = total
        return Snapshot(time.monotonic(), ticks, machine_ticks()[0])

    def idle(self, seconds: float, step: float = 0.5) -> CpuUse:
        """What each process uses over `seconds` while nothing is asked of it (`.rates`),
        with its rate over every `step` (how much it wanders: `.step_rates`)."""
        before = previous = self.snapshot()
        steps: dict[str, list[float]] = {n: [] for n in self.pids}
        while previous.at - before.at < seconds - step / 2:
            time.sleep(step)
            current = self.snapshot()
            span = current.at - previous.at
            for n in self.pids:
                steps[n].append((current.ticks[n] - previous.ticks[n]) * TICK / span)
            previous = current
        use = self.since(before, after=previous)
        use.step_rates, use.step = steps, step
        return use

    def since(self, before: Snapshot, idle: Mapping[str, float] | None = None,
              after: Snapshot | None = None) -> CpuUse:
        after = after or self.snapshot()
        span = after.at - before.at
        idle = idle or {}
        gross = {n: (after.ticks[n] - before.ticks[n]) * TICK for n in self.pids}
        net = {n: gross[n] - idle.get(n, 0.0) * span for n in self.pids}
        machine = (after.machine_busy - before.machine_busy) * TICK
        others = max(0.0, machine - sum(gross.values())) / span if span > 0 else 0.0
        return CpuUse(span, gross, net, dict(idle), others)

    def settle(self, idle: Mapping[str, float], names: Iterable[str] | None = None,
               margin_cores: float = 0.05, window: float = 0.5, timeout: float = 20.0,
               ) -> float:
        """Wait until `names` (default all) are back to their idle rate, plus a margin, over
        a `window`: asynchronous work a load triggered (events, fan-out) is done. Returns
        the seconds waited (`timeout` at most)."""
        watched = list(names if names is not None else self.pids)
        floor = sum(idle.get(n, 0.0) for n in watched) + margin_cores
        started = time.monotonic()
        previous = self.snapshot()
        while time.monotonic() - started < timeout:
            time.sleep(window)
            current = self.snapshot()
            span = current.at - previous.at
            rate = sum(current.ticks[n] - previous.ticks[n] for n in watched) * TICK / span
            if rate <= floor:
                break
            previous = current
        return time.monotonic() - started


def load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def noise(idle: Mapping[str, float], others_cores: float,
          load: float | None = None) -> list[str]:
    """Why figures measured around here may be noisy (empty if they should not be):
    other processes busy (cores), the watched processes busy while idle, a high load
    average (pass it only where our own load has not raised it)."""
    reasons = []
    if others_cores > NOISY_OTHERS_CORES:
        reasons.append(f"other processes used {others_cores:.2f} cores")
    idle_total = sum(idle.values())
    if idle_total > NOISY_IDLE_CORES:
        busiest = max(idle, key=lambda n: idle[n])
        reasons.append(f"the watched processes idled at {idle_total:.2f} cores "
                       f"({busiest} {idle[busiest]:.2f})")
    if load is not None and load > NOISY_LOAD_PER_CORE * cores():
        reasons.append(f"load average {load:.2f} on {cores()} cores")
    return reasons


__all__ = ["TICK", "CpuMeter", "CpuUse", "Snapshot", "cores", "load_average", "machine_ticks",
           "noise"]
