"""The one way a process starts: settings, tracing, peers, backends, server, drain.

Every process (services/processes.py) has an entry module that calls

    main(NAME, <Service>Settings, Needs(cql=True, ...), build)

where ``async def build(ctx: Context[<Service>Settings]) -> Built`` wires the process from
what `Context` holds — everything loaded once, here, at the edge of the process: the
service's settings, this process's server settings, the connected backends, the peer layer
(`services.peers.mesh.Peers`, with this process's credentials) and the service's page
tokens. Nothing below `build` loads settings.

A service's entry returns its `definition(...)`; a worker (an event consumer scaled by
running more of them, ``services/<service>/workers/<name>.py``) returns
`worker_definition(name)` — it serves only gRPC health, for readiness and drain — and its
consumers as `Built.background`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc import aio

from services.peers.mesh import Peers
from services.processes import Process, process
from services.runtime import logs, metrics, telemetry
from services.runtime.auth import ServiceCredentials, TokenVerifier
from services.runtime.backends import Backends, open_backends
from services.runtime.pagination import PageTokens, mesh_page_tokens
from services.runtime.server import ServiceDefinition, create_server, run, serve
from services.runtime.settings import (
    AuthSettings,
    LogSettings,
    PeerSettings,
    ServerSettings,
    ServiceSettings,
    SettingsError,
    StreamSettings,
    TelemetrySettings,
    load,
    server_settings_class,
)
from services.runtime.streams import StreamGuard

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Context(Generic[S]):
    """What a process's build gets: all of it loaded or connected once, at start."""

    process: Process
    settings: S
    server: ServerSettings
    auth: AuthSettings
    backends: Backends
    peers: Peers
    page_tokens: PageTokens
    streams: StreamSettings

    @property
    def credentials(self) -> ServiceCredentials:
        """This process acting as itself (calls outside any user's request)."""
        return self.peers.credentials


@dataclass
class Built:
    """What a build function returns."""

    definition: ServiceDefinition
    background: Sequence[Awaitable[Any]] = field(default_factory=list)
    on_stop: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: The domain object the transport serves (benchmarks drive it in-process).
    domain: Any = None


def _to_wire(message_class: type[Message]) -> Callable[[Message | bytes], bytes]:
    """The response serializer of a method: messages are serialized, and bytes (a response
    a read model assembled from stored serialized parts) go out as they are."""
    serialize = message_class.SerializeToString

    def to_wire(response: Message | bytes) -> bytes:
        return response if type(response) is bytes else serialize(response)  # type: ignore[arg-type]
    return to_wire


_HANDLER_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def definition(name: str, pb_module: ModuleType, service: str, servicer: object,
               public: Collection[str] = ()) -> ServiceDefinition:
    """The ServiceDefinition of one generated service: `service` is its short proto name
    (``PostService``); `public` lists its RPC names callable without a token. Handlers may
    return a message or its serialized bytes."""
    descriptor = pb_module.DESCRIPTOR.services_by_name[service]
    full_name = descriptor.full_name
    handlers = {}
    for method in descriptor.methods:
        kind = _HANDLER_KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = kind(
            getattr(servicer, method.name),
            request_deserializer=message_factory.GetMessageClass(method.input_type).FromString,
            response_serializer=_to_wire(message_factory.GetMessageClass(method.output_type)))

    def register(server: aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(full_name, handlers),))
        server.add_registered_method_handlers(full_name, handlers)

    return ServiceDefinition(name, (full_name,), register,
                             frozenset(f"/{full_name}/{rpc}" for rpc in public))


def worker_definition(name: str) -> ServiceDefinition:
    """The ServiceDefinition of a worker process: health and reflection, no RPCs."""
    return ServiceDefinition(name, (), lambda server: None)


@dataclass(frozen=True)
class Needs:
    """The backends a process uses."""

    cql: bool = False
    redis: bool = False
    nats: bool = False
    minio: bool = False
    ids: bool = False  # a Snowflake generator (Backends.ids); a leased worker id needs cql


def _credentials(name: str, settings: AuthSettings) -> ServiceCredentials:
    if settings.service_key_path is None:
        raise SettingsError("PHOTOMESH_JWT_SERVICE_KEY_PATH is not set: every process calls "
                            "its peers as itself and needs its own service key (peers "
                            "check its tokens with the public key of `name` alone)")
    return ServiceCredentials.load(name, settings.service_key_path)


@asynccontextmanager
async def process_context(name: str, settings_cls: type[S], needs: Needs
                          ) -> AsyncIterator[Context[S]]:
    """Everything process `name` loads and connects at start, as a `Context` (closed on
    exit): what `main` builds the process from, and what a benchmark or a test uses to run
    a service's own `build` in its own process."""
    me = process(name)
    settings = load(settings_cls)
    server = load(server_settings_class(name, me.port))
    auth_settings = load(AuthSettings)
    # Before the backends connect: their clients are timed only while metrics are on.
    stop_metrics = metrics.serve(server.host, server.metrics_port)
    peers = Peers(load(PeerSettings), _credentials(name, auth_settings))
    try:
        async with open_backends(me.service, cql=needs.cql, redis=needs.redis,
                                 nats=needs.nats, minio=needs.minio,
                                 ids=needs.ids) as backends:
            yield Context(me, settings, server, auth_settings, backends, peers,
                          mesh_page_tokens(auth_settings.service_key_path),
                          load(StreamSettings))
    finally:
        await peers.close()
        if stop_metrics is not None:
            stop_metrics()


async def run_process(name: str, settings_cls: type[S], needs: Needs,
                      build: Callable[[Context[S]], Awaitable[Built]]) -> None:
    logs.configure(name, load(LogSettings))
    provider = telemetry.setup_tracing(name, load(TelemetrySettings))
    try:
        async with process_context(name, settings_cls, needs) as ctx:
            auth = ctx.auth
            verifier = TokenVerifier.from_file(auth.public_key_path, auth.issuer, auth.audience,
                                               auth.leeway_seconds,
                                               auth.service_public_keys_path)
            built = await build(ctx)
            backends = ctx.backends
            streams = None
            if backends.redis is not None and backends.redis_settings is not None:
                # Users' server streams end at token expiry and sign-out, capped per user.
                streams = StreamGuard(backends.redis, backends.redis_settings, ctx.streams)
            running = await create_server(built.definition, ctx.server, verifier, streams)
            log.info("%s ready on %s:%d", name, ctx.server.host, running.port)
            try:
                await serve(running, ctx.server.grace_seconds,
                            [*built.background, *ctx.backends.background()])
            finally:
                for hook in built.on_stop:
                    await hook()
    finally:
        if provider is not None:
            provider.shutdown()


def main(name: str, settings_cls: type[S], needs: Needs,
         build: Callable[[Context[S]], Awaitable[Built]]) -> None:
    """Run process `name` (services/processes.py) until SIGTERM, then drain."""
    run(lambda: run_process(name, settings_cls, needs, build))
