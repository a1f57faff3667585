"""OpenTelemetry for every service: a tracer provider exporting over OTLP when an endpoint
is set, gRPC server/client instrumentation, and trace context in NATS message headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from services.runtime.settings import TelemetrySettings

log = logging.getLogger(__name__)


def setup_tracing(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """Install the global tracer provider for this process and return it."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"photomesh-{service_name}",
                                  "service.namespace": "photomesh"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if settings.endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.endpoint, insecure=settings.insecure)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
        log.info("exporting spans to %s", settings.endpoint)
    trace.set_tracer_provider(provider)
    return provider


def server_interceptor() -> object:
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return aio_server_interceptor()


def client_interceptors() -> list[object]:
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (W3C traceparent) for a NATS message."""
    carrier: dict[str, str] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


@contextmanager
def extracted(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block in the trace context carried by a NATS message's headers."""
    ctx = propagate.extract(dict(headers or {}))
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
