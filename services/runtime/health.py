"""The health servicer every process serves (grpc.health.v1), with one change to the
library's: a Watch stream ends once the process drains.

A Watch stream is a watcher's subscription (the introspection process watches every
other process), not work in flight; left open it holds `server.stop(grace)` for the whole
grace, so a mesh of processes stopping together took the full grace each. At drain the
watcher is told NOT_SERVING and its stream ends with OK; it watches again elsewhere.
"""

from __future__ import annotations

import asyncio

from grpc import aio
from grpc_health.v1 import health, health_pb2


class DrainingHealthServicer(health.aio.HealthServicer):
    def __init__(self) -> None:
        super().__init__()
        self._draining = asyncio.Event()

    async def enter_graceful_shutdown(self) -> None:
        await super().enter_graceful_shutdown()
        self._draining.set()

    async def Watch(self, request: health_pb2.HealthCheckRequest,  # noqa: N802 (gRPC name)
                    context: aio.ServicerContext) -> None:
        watching = asyncio.ensure_future(super().Watch(request, context))
        draining = asyncio.ensure_future(self._draining.wait())
        try:
            await asyncio.wait({watching, draining}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watching, draining):
                task.cancel()
            await asyncio.gather(watching, draining, return_exceptions=True)
        if draining.done() and not draining.cancelled():
            await context.write(health_pb2.HealthCheckResponse(
                status=health_pb2.HealthCheckResponse.NOT_SERVING))
