"""A real OTLP/gRPC trace receiver in a process of its own, for measuring what exporting
spans costs the mesh (its own CPU is the collector's, reported apart).

    python -m bench.measure.otlp_sink     # prints its endpoint; on SIGTERM, the span count

`otlp_sink()` runs one for the length of a ``with`` block; `.spans()` asks how many spans
it has received so far (the count it prints on SIGTERM is read back on exit).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


async def _serve() -> None:
    from tests.otlp_collector import OtlpCollector

    collector = OtlpCollector()
    await collector.start()
    print(collector.endpoint, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await collector.stop()
    print(len(collector.spans), flush=True)


@dataclass
class OtlpSink:
    pid: int
    endpoint: str
    received: list[int] = field(default_factory=list)  # the span count, once stopped


@contextmanager
def otlp_sink() -> Iterator[OtlpSink]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.measure.otlp_sink"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    endpoint = proc.stdout.readline().strip()
    if not endpoint:
        proc.kill()
        raise RuntimeError(f"the OTLP sink did not start (exit {proc.wait()})")
    sink = OtlpSink(proc.pid, endpoint)
    try:
        yield sink
    finally:
        proc.terminate()
        tail = proc.stdout.read().split()
        proc.stdout.close()
        proc.wait(timeout=10)
        if tail and tail[-1].isdigit():
            sink.received.append(int(tail[-1]))


def main() -> None:
    import uvloop

    uvloop.run(_serve())


if __name__ == "__main__":
    main()
