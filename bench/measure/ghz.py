"""gRPC load from ghz (pinned, built by infra/install.py), a process of its own.

Call n sends ``requests[n % len(requests)]`` (ghz takes a JSON array of messages by
request number) with the access token ``tokens[n % len(tokens)]`` (chosen by a template in
the metadata, evaluated per call). A run that does not `cycle` makes at most one call per
request, so a like or a follow run can make every call a new (user, post) or (user, user)
pair. Messages are JSON as protojson reads them,
against the contracts' descriptor set (clients/descriptors/photomesh.binpb).

ghz gates a run by count (`-n`); the duration gate is ours: at `duration` seconds it gets
SIGINT, stops and reports the calls made (the ones cut short come back CANCELLED and are
not counted).
"""

from __future__ import annotations

import json
import signal
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.measure.load import LoadReport, require_loopback, run_gated
from infra.contracts import DESCRIPTOR_SET

#: Codes of calls ghz cut short itself when the duration gate stopped it.
STOP_ARTIFACTS = {"Canceled", "Unavailable"}


def token_metadata(tokens: Sequence[str]) -> str:
    """The metadata template: call n carries ``tokens[n % len(tokens)]`` as its bearer."""
    if not tokens:
        return "{}"
    if len(tokens) == 1:
        return json.dumps({"authorization": f"Bearer {tokens[0]}"})
    if any("`" in t for t in tokens):
        raise ValueError("tokens must not contain backquotes")
    listed = " ".join(f"`{t}`" for t in tokens)
    return json.dumps({"authorization":
                       f"Bearer {{{{index (list {listed}) (mod .RequestNumber {len(tokens)})}}}}"})


def run_ghz(binary: Path, target: str, method: str, requests: Sequence[Mapping[str, object]],
            *, tokens: Sequence[str] = (), concurrency: int = 8, duration: float = 10.0,
            count: int | None = None, cycle: bool = False, timeout: float = 20.0
            ) -> LoadReport:
    """`method` (``photomesh.feed.v1.FeedService/GetHomeFeed``) on `target` (host:port):
    at most `count` calls and `duration` seconds. Without `cycle` every call sends a
    request of its own (at most one call per request); with it they repeat."""
    require_loopback(target.rsplit(":", 1)[0])
    if cycle:
        if count is None:
            raise ValueError("a cycling run needs a count")
    else:
        count = min(count or len(requests), len(requests))
    if count < concurrency:
        raise ValueError(f"{count} calls cannot keep {concurrency} callers busy")
    with tempfile.TemporaryDirectory(prefix="ghz-") as tmp:
        work = Path(tmp)
        (work / "data.json").write_text(json.dumps(list(requests[:count])))
        (work / "metadata.json").write_text(token_metadata(tokens))
        argv = [str(binary), "--insecure", "--protoset", str(DESCRIPTOR_SET),
                "--call", method, "--data-file", str(work / "data.json"),
                "--metadata-file", str(work / "metadata.json"),
                "--concurrency", str(concurrency), "--total", str(count),
                "--timeout", f"{timeout:g}s", "--connections", "1",
                "--format", "json", target]
        finished = run_gated(argv, duration, stdout=work / "report.json",
                             stop_signal=signal.SIGINT)
        report = json.loads((work / "report.json").read_text())
    return parse_report(report, finished.cpu_s,
                        cut_short=concurrency if finished.stopped_early else 0)


def parse_report(report: Mapping[str, object], cpu_s: float, cut_short: int = 0
                 ) -> LoadReport:
    """ghz's JSON report (nanoseconds) as a LoadReport; up to `cut_short` calls ended by
    the stop itself are not errors."""
    codes: dict[str, int] = dict(report.get("statusCodeDistribution") or {})  # type: ignore[call-overload]
    ok = codes.pop("OK", 0)
    for code in STOP_ARTIFACTS:
        forgiven = min(codes.get(code, 0), cut_short)
        cut_short -= forgiven
        if code in codes and not (codes[code] - forgiven):
            del codes[code]
        elif code in codes:
            codes[code] -= forgiven
    distribution = {round(float(d["percentage"])): float(d["latency"]) / 1e6  # type: ignore[index]
                    for d in (report.get("latencyDistribution") or [])}  # type: ignore[attr-defined]
    return LoadReport(
        tool="ghz", ok=ok, seconds=float(report["total"]) / 1e9,  # type: ignore[arg-type]
        p50_ms=distribution.get(50, float("nan")), p99_ms=distribution.get(99, float("nan")),
        mean_ms=float(report.get("average", 0)) / 1e6,  # type: ignore[arg-type]
        client_cpu_s=cpu_s, errors=codes)


__all__ = ["parse_report", "run_ghz", "token_metadata"]
