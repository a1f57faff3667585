"""The one way a service process starts: settings, tracing, backends, server, drain.

A service's ``__main__`` calls `main(...)` with its settings class and a `build` function
that receives the settings and connected backends and returns its `ServiceDefinition` (and
any background workers, e.g. event consumers).

A worker process (an event consumer scaled by running more of them, e.g.
``python -m services.media.worker``) starts the same way with `worker_definition(name)`:
it serves only gRPC health (for readiness and drain) and runs its consumers as
`Built.background`. Calls it makes to other services carry `service_credentials(name)`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc import aio

from services.runtime import logs, metrics, telemetry
from services.runtime.auth import ServiceCredentials, TokenVerifier
from services.runtime.backends import Backends, open_backends
from services.runtime.server import ServiceDefinition, create_server, run, serve
from services.runtime.settings import (
    AuthSettings,
    LogSettings,
    MetricsSettings,
    ServerSettings,
    TelemetrySettings,
    load,
)

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServerSettings)


@dataclass
class Built:
    """What a service's build function returns."""

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


def definition(name: str, pb_module: ModuleType, grpc_module: ModuleType, service: str,
               servicer: object, public: Collection[str] = ()) -> ServiceDefinition:
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


def service_credentials(name: str) -> ServiceCredentials:
    """This process's own identity for peer calls outside a user's request; raises
    SettingsError if PHOTOMESH_JWT_SERVICE_KEY_PATH is not set."""
    path = load(AuthSettings).service_key_path
    if path is None:
        from services.runtime.settings import SettingsError
        raise SettingsError("PHOTOMESH_JWT_SERVICE_KEY_PATH is not set: this process calls "
                            "other services as itself and needs the mesh's service key")
    return ServiceCredentials.load(name, path)


@dataclass(frozen=True)
class Needs:
    """The backends a service uses."""

    cql: bool = False
    redis: bool = False
    nats: bool = False
    minio: bool = False
    ids: bool = False  # a Snowflake generator (Backends.ids); a leased worker id needs cql


async def run_service(name: str, settings_cls: type[S], needs: Needs,
                      build: Callable[[S, Backends], Awaitable[Built]]) -> None:
    logs.configure(name, load(LogSettings))
    settings = load(settings_cls)
    auth_settings = load(AuthSettings)
    telemetry_settings = load(TelemetrySettings)
    provider = telemetry.setup_tracing(name, telemetry_settings)
    stop_metrics = metrics.serve(load(MetricsSettings))
    verifier = TokenVerifier.from_file(auth_settings.public_key_path, auth_settings.issuer,
                                       auth_settings.audience, auth_settings.leeway_seconds,
                                       auth_settings.service_key_path)
    try:
        async with open_backends(name, cql=needs.cql, redis=needs.redis, nats=needs.nats,
                                 minio=needs.minio, ids=needs.ids) as backends:
            built = await build(settings, backends)
            running = await create_server(built.definition, settings, verifier)
            log.info("%s ready on %s:%d", name, settings.host, running.port)
            try:
                await serve(running, settings.grace_seconds,
                            [*built.background, *backends.background()])
            finally:
                for hook in built.on_stop:
                    await hook()
    finally:
        if provider is not None:
            provider.shutdown()
        if stop_metrics is not None:
            stop_metrics()


def main(name: str, settings_cls: type[S], needs: Needs,
         build: Callable[[S, Backends], Awaitable[Built]]) -> None:
    run(lambda: run_service(name, settings_cls, needs, build))
