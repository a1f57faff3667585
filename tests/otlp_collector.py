"""A real OTLP/gRPC trace receiver for tests: services export their spans to it over the
network exactly as they would to a collector in production."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from grpc import aio
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: list[ReceivedSpan], arrived: asyncio.Condition) -> None:
        self._sink = sink
        self._arrived = arrived
        self.forward: trace_service_pb2_grpc.TraceServiceStub | None = None

    async def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,
                     context: aio.ServicerContext
                     ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self._sink.append(ReceivedSpan(
                        service, span.name, span.trace_id.hex(), span.span_id.hex(),
                        span.parent_span_id.hex(), span.kind))
        async with self._arrived:
            self._arrived.notify_all()
        if self.forward is not None:  # as a collector's pipeline would, unchanged
            await self.forward.Export(request, timeout=5)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpCollector:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._arrived = asyncio.Condition()
        self._server: aio.Server | None = None
        self._service = _TraceService(self.spans, self._arrived)
        self._forward_channel: aio.Channel | None = None
        self.endpoint = ""

    def forward_to(self, endpoint: str) -> None:
        """From now on, pass every export on to another OTLP/gRPC receiver (Jaeger)."""
        self._forward_channel = aio.insecure_channel(endpoint)
        self._service.forward = trace_service_pb2_grpc.TraceServiceStub(self._forward_channel)

    async def start(self) -> None:
        self._server = aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self._service, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.endpoint = f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)
        if self._forward_channel is not None:
            await self._forward_channel.close()

    async def wait_for(self, trace_id: str, service: str, timeout: float = 15.0
                       ) -> list[ReceivedSpan]:
        """Spans of `trace_id` once one from `service` has arrived."""
        def found() -> bool:
            return any(s.trace_id == trace_id and s.service == service for s in self.spans)

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(found), timeout)
        return [s for s in self.spans if s.trace_id == trace_id]

