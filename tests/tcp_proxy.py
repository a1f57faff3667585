"""A TCP proxy in front of a real backend that a test can hold and cut (asyncio, in the test
process).

    proxy = await TcpProxy.start("127.0.0.1", 19042)   # listens on proxy.port
    proxy.hold()           # bytes from clients wait in the proxy: requests are in flight
    await proxy.held()     # until a request is waiting
    await proxy.cut()      # every connection reset, new ones refused: the backend is "down"
    await proxy.restore()  # listening again on the same port, forwarding as before

Why a proxy and not a private server: a private Cassandra is a JVM needing a gigabyte and a
minute to start on two cores, more than the rest of a test run; behind a proxy the service
still talks to a real CQL store (or MinIO), and the test decides to the byte when the
backend goes away — with a request in flight, which stopping a server process cannot
promise.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, host: str, upstream: tuple[str, int]) -> None:
        self.host = host
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._forwarding = asyncio.Event()
        self._forwarding.set()
        self._held = asyncio.Event()

    @classmethod
    async def start(cls, upstream_host: str, upstream_port: int,
                    host: str = "127.0.0.1") -> TcpProxy:
        proxy = cls(host, (upstream_host, upstream_port))
        await proxy.restore()
        return proxy

    async def restore(self) -> None:
        """Listen (again, on the same port once one was chosen) and forward everything."""
        self._held.clear()
        self._forwarding.set()
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def hold(self) -> None:
        """Stop passing client bytes on (they wait here): the next request stays in flight."""
        self._forwarding.clear()

    async def held(self, timeout: float = 30.0) -> None:
        """Until a client has sent bytes that are being held."""
        await asyncio.wait_for(self._held.wait(), timeout)

    async def cut(self) -> None:
        """The backend goes away: stop listening, reset every open connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._forwarding.set()  # held pipes wake up to find their connections gone

    async def close(self) -> None:
        await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer, client_side=True),
                                 self._pipe(up_reader, writer, client_side=False))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    client_side: bool) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if client_side and not self._forwarding.is_set():
                    self._held.set()
                    await self._forwarding.wait()
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
