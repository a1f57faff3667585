"""What a load generator reports, and running one as a process of its own.

Both generators (bench/measure/ghz.py for gRPC, bench/measure/wrk.py for HTTP) run closed
loop — `concurrency` callers, each sending its next call when the last one answered —
until `count` calls are made or `duration` seconds pass, whichever comes first, against
loopback only. Latencies and throughput are the generator's own figures; its CPU time
(user + system, from wait4) is reported apart, never charged to what it loads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class LoadReport:
    """One load run: calls answered OK, failures by code, and the generator's figures."""

    tool: str
    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    client_cpu_s: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, object]:
        return {**asdict(self), "throughput_per_s": round(self.throughput, 2)}


def require_loopback(host: str) -> None:
    """Load is only ever sent to this machine."""
    import ipaddress

    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"load generators target loopback only, not {host}")


@dataclass(frozen=True)
class Finished:
    returncode: int
    cpu_s: float
    stopped_early: bool  # the duration ran out before the count


#: Seconds a generator may take to start (read its inputs, connect) before its duration
#: counts: its own clock, which its figures use, starts when it starts sending.
STARTUP_ALLOWANCE = 1.0


def run_gated(argv: Sequence[str], duration: float, *, stdout: Path, stop_signal: int,
              grace: float = 15.0) -> Finished:
    """Run `argv` (output to `stdout`) until it exits by itself (its count is done) or
    `duration` seconds (plus its start-up allowance) pass, then send `stop_signal` (the
    tool then reports what it did). A run that ignores the signal is killed after `grace`
    more seconds. Returns its CPU time."""
    duration += STARTUP_ALLOWANCE
    with open(stdout, "wb") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    stopped = threading.Event()

    def stop(sig: int) -> None:
        stopped.set()
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass

    timers = [threading.Timer(duration, stop, (stop_signal,)),
              threading.Timer(duration + grace, stop, (signal.SIGKILL,))]
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        for timer in timers:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, -stop_signal) and not stdout.stat().st_size:
        raise RuntimeError(f"{Path(argv[0]).name} failed (exit {proc.returncode}): "
                           f"{err.strip()[-2000:]}")
    return Finished(proc.returncode, usage.ru_utime + usage.ru_stime, stopped.is_set())


__all__ = ["STARTUP_ALLOWANCE", "Finished", "LoadReport", "require_loopback", "run_gated"]
