"""grpc.aio server bootstrap shared by every service.

`create_server` builds a server (testable in-process); `serve` runs it until SIGTERM/SIGINT,
then marks health NOT_SERVING, stops accepting calls and lets in-flight calls drain for
`grace_seconds`. `run` starts the event loop on uvloop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any

import uvloop
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime import metrics, telemetry
from services.runtime.auth import TokenVerifier
from services.runtime.health import DrainingHealthServicer
from services.runtime.interceptors import AuthInterceptor, ErrorInterceptor
from services.runtime.settings import ServerSettings
from services.runtime.streams import StreamGuard, StreamInterceptor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service contributes to the shared bootstrap.

    `name` is short (``post``): it names the error domain (``post.photomesh``).
    `service_names` are the full gRPC names it serves (for health and reflection).
    `register` adds its servicer(s) to the server. `public_methods` (full method paths,
    ``/photomesh.auth.v1.AuthService/Login``) may be called without a token.

    `health` is None for every service: the bootstrap adds the standard health servicer
    (SERVING for "" and `service_names` once started) and reflection of `service_names`.
    A process that answers for others (services/introspection: the whole mesh's health
    and reflection) registers its own in `register` and hands its health servicer here,
    so drain still marks it NOT_SERVING first.
    """

    name: str
    service_names: tuple[str, ...]
    register: Callable[[aio.Server], None]
    public_methods: Collection[str] = field(default_factory=frozenset)
    health: health.aio.HealthServicer | None = None

    @property
    def domain(self) -> str:
        return f"{self.name}.photomesh"


@dataclass
class RunningServer:
    server: aio.Server
    port: int
    health: health.aio.HealthServicer
    definition: ServiceDefinition

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def create_server(definition: ServiceDefinition, settings: ServerSettings,
                        verifier: TokenVerifier, streams: StreamGuard | None = None
                        ) -> RunningServer:
    """Build and start a server for `definition`; returns it with its bound port. With
    `streams`, users' server streams end at token expiry and sign-out and are capped."""
    server = aio.server(
        interceptors=[
            *telemetry.server_interceptors(),  # type: ignore[list-item]
            *metrics.server_interceptors(),
            ErrorInterceptor(definition.domain),
            AuthInterceptor(verifier, definition.public_methods),
            *([StreamInterceptor(streams)] if streams is not None else []),
        ],
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
            *([("grpc.max_connection_age_ms", int(settings.max_connection_age_seconds * 1000))]
              if settings.max_connection_age_seconds > 0 else []),
        ],
    )
    definition.register(server)
    health_servicer = definition.health
    if health_servicer is None:
        health_servicer = DrainingHealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*definition.service_names,
             health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:
        raise RuntimeError(f"could not bind {settings.host}:{settings.port}")
    await server.start()
    if definition.health is None:
        for name in ("", *definition.service_names):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("%s serving on %s:%d", definition.name, settings.host, port)
    return RunningServer(server, port, health_servicer, definition)


async def wait_for_shutdown_signal() -> None:
    """Return on the first SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(running: RunningServer, grace: float,
                background: Collection[Awaitable[Any]] = ()) -> None:
    """Serve until a shutdown signal, then drain. `background` tasks are cancelled at stop."""
    tasks = [asyncio.ensure_future(aw) for aw in background]
    try:
        stop = asyncio.ensure_future(wait_for_shutdown_signal())
        termination = asyncio.ensure_future(running.server.wait_for_termination())
        done, _ = await asyncio.wait({stop, termination, *tasks},
                                     return_when=asyncio.FIRST_COMPLETED)
        failed = [t.exception() for t in done if t in tasks and t.exception() is not None]
        for exc in failed:
            log.error("background task failed: %r", exc)
        log.info("%s: draining for up to %.1fs", running.definition.name, grace)
        await running.stop(grace)
        stop.cancel()
        termination.cancel()
        if failed:
            raise RuntimeError("a background worker died; exiting so it is restarted") \
                from failed[0]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a service's async main on uvloop. Plain-text logs until the service configures
    its own (services/runtime/logs.py, from LogSettings)."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    grpc_log = logging.getLogger("grpc")
    grpc_log.setLevel(logging.WARNING)
    uvloop.run(main())

