"""Domain events on the real NATS JetStream: durability, ack-after-effect, trace context."""

from __future__ import annotations

import asyncio
import uuid

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from photomesh.post.v1 import events_pb2

from services.runtime.events import Consumer, Delivery, EventBus
from services.runtime.settings import NatsSettings, load

_exporter = InMemorySpanExporter()


def _provider() -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    trace.set_tracer_provider(provider)
    return provider


async def _bus(run_env) -> EventBus:
    bus = await EventBus.connect(load(NatsSettings), "test")
    await bus.ensure_stream("post")
    await bus.ensure_stream("post")  # declaring twice is harmless
    return bus


async def test_a_failed_handler_gets_the_event_again_and_acks_after_success(run_env) -> None:
    bus = await _bus(run_env)
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()
    event_id = uuid.uuid4().hex

    async def handler(event: events_pb2.PostCreatedEvent, delivery: Delivery) -> None:
        if event.event_id != event_id:
            return  # older events of the shared stream
        seen.append((event.event_id, delivery.attempt))
        if delivery.attempt == 1:
            raise RuntimeError("store briefly down")
        done.set()

    consumer = Consumer(bus, domain="post", durable=f"retry_{event_id[:8]}",
                        events=["created"], message_type=events_pb2.PostCreatedEvent,
                        handler=handler, backoff_seconds=(0.2,))
    task = asyncio.create_task(consumer.run())
    try:
        await bus.publish("post", "created", events_pb2.PostCreatedEvent(event_id=event_id),
                          msg_id=event_id)
        await asyncio.wait_for(done.wait(), 15)
        await asyncio.sleep(1.0)  # nothing further may arrive once acknowledged
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
    assert seen == [(event_id, 1), (event_id, 2)]


async def test_a_retried_publish_is_stored_once(run_env) -> None:
    bus = await _bus(run_env)
    event_id = uuid.uuid4().hex
    for _ in range(3):
        await bus.publish("post", "created", events_pb2.PostCreatedEvent(event_id=event_id),
                          msg_id=event_id)
    info = await bus.js.stream_info(bus.stream_name("post"))
    before = info.state.messages
    await bus.publish("post", "created", events_pb2.PostCreatedEvent(event_id=event_id),
                      msg_id=event_id)
    info = await bus.js.stream_info(bus.stream_name("post"))
    await bus.close()
    assert info.state.messages == before


async def test_trace_context_crosses_the_message(run_env) -> None:
    tracer = _provider().get_tracer("test")
    bus = await _bus(run_env)
    received: asyncio.Queue[str] = asyncio.Queue()

    async def handler(event: events_pb2.PostCreatedEvent, delivery: Delivery) -> None:
        ctx = trace.get_current_span().get_span_context()
        await received.put(format(ctx.trace_id, "032x"))

    event_id = uuid.uuid4().hex
    consumer = Consumer(bus, domain="post", durable=f"trace_{event_id[:8]}",
                        events=["created"], message_type=events_pb2.PostCreatedEvent,
                        handler=handler)
    task = asyncio.create_task(consumer.run())
    try:
        with tracer.start_as_current_span("create-post") as span:
            await bus.publish("post", "created", events_pb2.PostCreatedEvent(event_id=event_id),
                              msg_id=event_id)
            trace_id = format(span.get_span_context().trace_id, "032x")
        # The consumer's span continues the producer's trace (older events of the stream may
        # arrive first, with their own traces).
        seen: list[str] = []
        while trace_id not in seen:
            seen.append(await asyncio.wait_for(received.get(), 15))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
