"""The floor a measured call is compared with: a bare grpc.aio unary server.

    python -m bench.measure.bare_server <payload file> <method path> ...

It runs in a process of its own on uvloop, with no interceptors, and answers every given
method path (``/photomesh.feed.v1.FeedService/GetHomeFeed``) with the same stored bytes:
a response recorded from the real service, so the load generator sends and decodes
exactly what it does against the mesh. It prints its port and serves until SIGTERM.
`bare_server(...)` starts one for the length of a ``with`` block.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


async def _serve(payload: bytes, methods: list[str]) -> None:
    import grpc
    from grpc import aio

    async def answer(request: bytes, context: aio.ServicerContext) -> bytes:
        return payload

    handler = grpc.unary_unary_rpc_method_handler(answer)  # bytes in, bytes out

    class Routes(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            return handler if details.method in methods else None

    server = aio.server()
    server.add_generic_rpc_handlers((Routes(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


@dataclass(frozen=True)
class BareServer:
    pid: int
    target: str
    payload_bytes: int


@contextmanager
def bare_server(payload: bytes, methods: list[str]) -> Iterator[BareServer]:
    """A bare server process answering `methods` with `payload`; stopped afterwards."""
    with tempfile.NamedTemporaryFile(prefix="bare-payload-", delete=False) as f:
        f.write(payload)
    proc = subprocess.Popen([sys.executable, "-m", "bench.measure.bare_server", f.name,
                             *methods], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"bare server did not start (exit {proc.poll()})")
        yield BareServer(proc.pid, f"127.0.0.1:{int(line)}", len(payload))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        os.unlink(f.name)


def main() -> None:
    import uvloop

    with open(sys.argv[1], "rb") as f:
        payload = f.read()
    uvloop.run(_serve(payload, sys.argv[2:]))


if __name__ == "__main__":
    main()
