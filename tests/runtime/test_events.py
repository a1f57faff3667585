"""Domain events on the real NATS JetStream: durability, ack-after-effect, trace context."""

from __future__ import annotations

import asyncio
import uuid

from nats.js.api import ConsumerInfo
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


async def _bus(run_env, **settings: object) -> EventBus:
    """A bus on this run's names; `settings` override NatsSettings fields."""
    bus = await EventBus.connect(load(NatsSettings).model_copy(update=settings), "test")
    await bus.ensure_stream("post")
    await bus.ensure_stream("post")  # declaring twice is harmless
    return bus


async def _settled(bus: EventBus, durable: str, timeout: float = 10.0) -> ConsumerInfo:
    """The consumer's state once nothing is pending or awaiting an ack (acks travel
    asynchronously); its last state if that never happens within `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await bus.js.consumer_info(bus.stream_name("post"), durable)
        if (info.num_pending, info.num_ack_pending) == (0, 0) or \
                asyncio.get_running_loop().time() > deadline:
            return info
        await asyncio.sleep(0.1)


async def test_a_failed_handler_gets_the_event_again_and_acks_after_success(run_env) -> None:
    # A one-second ack wait: an event left unacknowledged would come back within the test.
    ack_wait = 1.0
    bus = await _bus(run_env, ack_wait_seconds=ack_wait)
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()
    event_id = uuid.uuid4().hex
    durable = f"retry_{event_id[:8]}"

    async def handler(event: events_pb2.PostCreatedEvent, delivery: Delivery) -> None:
        if event.event_id != event_id:
            return  # older events of the shared stream
        seen.append((event.event_id, delivery.attempt))
        if delivery.attempt == 1:
            raise RuntimeError("store briefly down")
        done.set()

    consumer = Consumer(bus, domain="post", durable=durable,
                        events=["created"], message_type=events_pb2.PostCreatedEvent,
                        handler=handler, backoff_seconds=(0.2,))
    task = asyncio.create_task(consumer.run())
    try:
        await bus.publish("post", "created", events_pb2.PostCreatedEvent(event_id=event_id),
                          msg_id=event_id)
        await asyncio.wait_for(done.wait(), 15)
        info = await _settled(bus, durable)
        # Past another ack wait: an unacknowledged event would have been redelivered.
        await asyncio.sleep(ack_wait * 1.5)
        later = await bus.js.consumer_info(bus.stream_name("post"), durable)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
    assert seen == [(event_id, 1), (event_id, 2)]
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)
    assert info.ack_floor.stream_seq == info.delivered.stream_seq  # all acknowledged
    assert (later.num_ack_pending, later.num_redelivered) == (0, 0)


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
