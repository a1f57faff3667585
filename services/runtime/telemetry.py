"""OpenTelemetry for every service: a tracer provider exporting over OTLP when an endpoint
is set, gRPC server/client instrumentation, and trace context in NATS message headers.

Tracing costs nothing when nobody collects it: without an endpoint no SDK provider is
installed, the gRPC interceptors are left out and no span objects are made (`active()`
is False; code that makes spans of its own asks it first). With one, a parent-based
sampler keeps `sample_ratio` of the traces this process starts and follows the caller's
decision for the rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from services.runtime.settings import TelemetrySettings

log = logging.getLogger(__name__)


def active() -> bool:
    """True when spans are recorded somewhere (an SDK tracer provider is installed)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def setup_tracing(service_name: str, settings: TelemetrySettings) -> TracerProvider | None:
    """Install the global tracer provider for this process and return it; None (and no
    provider: tracing is off) when no endpoint is set."""
    if not settings.endpoint:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"photomesh-{service_name}",
                                  "service.namespace": "photomesh"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=settings.endpoint, insecure=settings.insecure)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    log.info("exporting spans to %s (sample ratio %s)", settings.endpoint,
             settings.sample_ratio)
    trace.set_tracer_provider(provider)
    return provider


def server_interceptors() -> list[object]:
    """The gRPC server instrumentation, when tracing is active (else none)."""
    if not active():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def client_interceptors() -> list[object]:
    """The gRPC client instrumentation, when tracing is active (else none)."""
    if not active():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def span(name: str, attributes: Mapping[str, str | int | float | bool] | None = None
         ) -> AbstractContextManager[object]:
    """An internal span around a block when tracing is active; nothing otherwise."""
    if not active():
        return nullcontext()
    return trace.get_tracer("photomesh").start_as_current_span(name, attributes=attributes)


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (W3C traceparent) for a NATS message."""
    carrier: dict[str, str] = dict(headers or {})
    if active():
        propagate.inject(carrier)
    return carrier


@contextmanager
def extracted(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block in the trace context carried by a NATS message's headers."""
    if not active():
        yield
        return
    ctx = propagate.extract(dict(headers or {}))
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
