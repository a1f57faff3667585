"""A real OTLP/gRPC trace receiver for tests: services export their spans to it over the
network exactly as they would to a collector in production."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
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
    def __init__(self, sink: list[ReceivedSpan], arrived: threading.Condition) -> None:
        self._sink = sink
        self._arrived = arrived
        self.forward: trace_service_pb2_grpc.TraceServiceStub | None = None

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,
               context: grpc.ServicerContext) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                received += [ReceivedSpan(service, span.name, span.trace_id.hex(),
                                          span.span_id.hex(), span.parent_span_id.hex(),
                                          span.kind) for span in scope.spans]
        with self._arrived:
            self._sink.extend(received)
            self._arrived.notify_all()
        if self.forward is not None:  # as a collector's pipeline would, unchanged
            self.forward.Export(request, timeout=5)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpCollector:
    """Served from threads of its own, not from the tests' event loop: a test that blocks
    its loop (stopping a process it started, say) must not stall that process's last
    export, which would hold its exit for the exporter's whole timeout."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._arrived = threading.Condition()
        self._server: grpc.Server | None = None
        self._service = _TraceService(self.spans, self._arrived)
        self._forward_channel: grpc.Channel | None = None
        self.endpoint = ""

    def forward_to(self, endpoint: str) -> None:
        """From now on, pass every export on to another OTLP/gRPC receiver (Jaeger)."""
        self._forward_channel = grpc.insecure_channel(endpoint)
        self._service.forward = trace_service_pb2_grpc.TraceServiceStub(self._forward_channel)

    def start(self) -> None:
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8,
                                                      thread_name_prefix="otlp-collector"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self._service, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.endpoint = f"127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0)
        if self._forward_channel is not None:
            self._forward_channel.close()

    async def wait_for(self, trace_id: str, service: str, timeout: float = 15.0
                       ) -> list[ReceivedSpan]:
        """Spans of `trace_id` once one from `service` has arrived."""
        def found() -> bool:
            return any(s.trace_id == trace_id and s.service == service for s in self.spans)

        def wait() -> list[ReceivedSpan]:
            with self._arrived:
                if not self._arrived.wait_for(found, timeout):
                    raise TimeoutError(f"no span of trace {trace_id} from {service} "
                                       f"within {timeout:.0f}s")
                return [s for s in self.spans if s.trace_id == trace_id]

        return await asyncio.to_thread(wait)
