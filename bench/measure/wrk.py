"""HTTP load from wrk (Debian's package, installed by infra/install.py), a process of its own.

One wrk thread keeps `concurrency` connections busy, closed loop. Each call sends the next
of the given requests (method, path, bearer token) round-robin — prepared once, so the
generator does no work per call beyond HTTP — from bench/measure/wrk_requests.lua, which
also stops the run after `count` answers (a few more calls may be answered and counted
before wrk acts on the signal) and reports the figures as JSON.
"""

from __future__ import annotations

import json
import math
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.measure.load import LoadReport, require_loopback, run_gated

SCRIPT = Path(__file__).with_name("wrk_requests.lua")


def run_wrk(binary: Path, base_url: str, requests: Sequence[tuple[str, str, str]], *,
            concurrency: int = 8, duration: float = 10.0, count: int | None = None,
            timeout: float = 20.0) -> LoadReport:
    """`requests` are (METHOD, path, token); `base_url` is ``http://127.0.0.1:<port>``."""
    host = base_url.split("://", 1)[1].rsplit(":", 1)[0]
    require_loopback(host)
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        work = Path(tmp)
        (work / "requests.txt").write_text(
            "".join(f"{method} {path} {token}\n" for method, path, token in requests))
        # wrk's own -d (whole seconds) gates the time; our SIGINT is the backstop.
        argv = [str(binary), "--threads", "1", "--connections", str(concurrency),
                "--duration", f"{max(1, math.ceil(duration))}s", "--timeout", f"{timeout:g}s",
                "--script", str(SCRIPT), base_url, "--",
                str(work / "requests.txt"), str(count or 0)]
        finished = run_gated(argv, max(1, math.ceil(duration)), stdout=work / "out.txt",
                             stop_signal=signal.SIGINT)
        lines = [line for line in (work / "out.txt").read_text().splitlines()
                 if line.startswith("{")]
    if not lines:
        raise RuntimeError("wrk printed no figures")
    return parse_report(json.loads(lines[-1]), finished.cpu_s)


def parse_report(figures: dict[str, float], cpu_s: float) -> LoadReport:
    """The script's JSON line as a LoadReport: non-2xx/3xx answers and socket errors are
    errors; the rest answered."""
    errors = {name: int(figures[key]) for name, key in (
        ("HTTP status >= 400", "status_errors"), ("connect", "connect_errors"),
        ("read", "read_errors"), ("write", "write_errors"), ("timeout", "timeouts"))
        if figures.get(key)}
    ok = int(figures["requests"]) - errors.get("HTTP status >= 400", 0)
    return LoadReport(tool="wrk", ok=ok, seconds=figures["duration_us"] / 1e6,
                      p50_ms=figures["p50_us"] / 1e3, p99_ms=figures["p99_us"] / 1e3,
                      mean_ms=figures["mean_us"] / 1e3, client_cpu_s=cpu_s, errors=errors)


__all__ = ["run_wrk"]
