"""A TCP proxy a test controls, in front of a real server: `cut()` closes every
connection and refuses new ones (the peer is gone), `restore()` accepts again. It runs on
its own thread's event loop, so it keeps forwarding while the test's loop waits.

`hold()` stops passing the clients' bytes on (they wait in the proxy) and `held()` returns
once some are waiting: cutting then fails a request that is surely in flight — what
stopping a server process cannot promise. (A proxy rather than a private server also
because a private Cassandra is a JVM needing a gigabyte and a minute to start on two cores.)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from infra.sandbox import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._forwarding = asyncio.Event()  # used on the proxy's loop only
        self._forwarding.set()
        self._held = threading.Event()
        self.connections = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _call(self, coro) -> object:  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> TcpProxy:
        self._thread.start()
        self.restore()
        return self

    def restore(self) -> None:
        self._call(self._listen())

    def hold(self) -> None:
        """Keep the clients' next bytes here: their requests stay in flight."""
        self._held.clear()
        self._loop.call_soon_threadsafe(self._forwarding.clear)

    def held(self, timeout: float = 30.0) -> None:
        """Block until a client's bytes are being held (after `hold()`)."""
        if not self._held.wait(timeout):
            raise TimeoutError(f"nothing reached the held proxy in {timeout}s")

    def cut(self) -> None:
        self._call(self._close())

    def stop(self) -> None:
        self.cut()
        self._call(asyncio.sleep(0.05))  # let the closed transports finish closing
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._forwarding.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self._forwarding.set()  # held pipes wake up to find their connections closed

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       from_client: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if from_client and not self._forwarding.is_set():
                        self._held.set()
                        await self._forwarding.wait()
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))
        self._writers.difference_update((writer, up_writer))


@contextlib.contextmanager
def proxied(target: str) -> Iterator[TcpProxy]:
    """A started proxy to ``host:port``, stopped afterwards."""
    host, port = target.rsplit(":", 1)
    proxy = TcpProxy(host, int(port)).start()
    try:
        yield proxy
    finally:
        proxy.stop()
