"""Domain events on NATS JetStream, with trace context in the message headers.

Streams and durable consumers are declared idempotently at start-up. A publish waits for
JetStream's acknowledgement (the event is stored) and carries a ``Nats-Msg-Id`` so a retried
publish is de-duplicated. A consumer acknowledges a message only after its handler has
returned (its effect stored); a failing handler's message is redelivered with backoff, up to
`max_deliver` times. Payloads are serialized protobuf messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Generic, TypeVar

import nats
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError, ServiceUnavailableError
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.runtime import metrics, telemetry
from services.runtime.settings import NatsSettings

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

M = TypeVar("M", bound=Message)
# At stop, subscriptions drain at most this long (then the connection closes): a process
# must stop well within its orchestrator's grace even while NATS is unreachable.
DRAIN_TIMEOUT_SECONDS = 3
# Declaring streams and consumers (idempotent) is retried this long while JetStream does not
# answer in time: a clustered JetStream places each R3 stream through its meta leader, and
# every process of a mesh declares its streams at once when it starts.
DECLARE_PATIENCE_SECONDS = 90.0

T = TypeVar("T")


async def declared(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """`call()` (an idempotent JetStream declaration), again while JetStream times out or
    says it is unavailable, for up to DECLARE_PATIENCE_SECONDS."""
    deadline = time.monotonic() + DECLARE_PATIENCE_SECONDS
    pause = 0.5
    while True:
        try:
            return await call()
        except (NatsTimeoutError, ServiceUnavailableError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("declaring %s: JetStream did not answer (%s); again in %.1fs",
                        what, type(exc).__name__, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 8.0)


@dataclass(frozen=True)
class Delivery:
    """What a handler may want to know about the message besides its payload."""

    subject: str
    msg_id: str | None
    attempt: int


def server_urls(url: str) -> list[str]:
    """The servers of a NATS URL setting: one URL, or several separated by commas (the
    nodes of a cluster; the client also learns the others from the one it reaches)."""
    return [u.strip() for u in url.split(",") if u.strip()]


class EventBus:
    """One NATS connection with its JetStream context, named from settings."""

    def __init__(self, nc: NatsClient, settings: NatsSettings) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.settings = settings

    @classmethod
    async def connect(cls, settings: NatsSettings, name: str) -> EventBus:
        nc = await nats.connect(server_urls(settings.url), name=f"photomesh-{name}",
                                max_reconnect_attempts=-1, connect_timeout=5,
                                drain_timeout=DRAIN_TIMEOUT_SECONDS)
        return cls(nc, settings)

    def stream_name(self, domain: str) -> str:
        return f"{self.settings.stream_prefix}_{domain.upper()}"

    def subject(self, domain: str, event: str) -> str:
        return f"{self.settings.subject_prefix}.{domain}.{event}"

    async def ensure_stream(self, domain: str, *, max_age_seconds: float = 7 * 86400) -> str:
        """Declare the durable (file-stored) stream of a domain's events; safe to repeat."""
        name = self.stream_name(domain)
        config = api.StreamConfig(
            name=name,
            subjects=[f"{self.settings.subject_prefix}.{domain}.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            num_replicas=self.settings.replicas,
            max_age=max_age_seconds,
            duplicate_window=120.0,
        )

        async def declare() -> None:
            try:
                await self.js.stream_info(name)
                await self.js.update_stream(config)
            except NotFoundError:
                await self.js.add_stream(config)

        await declared(f"stream {name}", declare)
        return name

    async def publish(self, domain: str, event: str, message: Message, *,
                      msg_id: str) -> int:
        """Publish and wait until JetStream has stored it; returns its stream sequence.
        `msg_id` de-duplicates retries (a duplicate returns the first one's sequence)."""
        subject = self.subject(domain, event)
        span = _tracer.start_as_current_span(
            f"{subject} publish", kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.destination.name": subject,
                        "messaging.message.id": msg_id}) if telemetry.active() else nullcontext()
        with span:
            headers = telemetry.inject_headers({"Nats-Msg-Id": msg_id,
                                                "Content-Type": "application/x-protobuf",
                                                "Photomesh-Type": message.DESCRIPTOR.full_name})
            started = time.perf_counter()
            stream = self.stream_name(domain)
            ack = await self.js.publish(subject, message.SerializeToString(), headers=headers,
                                        stream=stream)
            metrics.published(stream, time.perf_counter() - started)
        return int(ack.seq)

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()


Handler = Callable[[M, Delivery], Awaitable[None]]


class Consumer(Generic[M]):
    """A durable pull consumer feeding one handler; runs until cancelled.

    Poison messages (undecodable) are terminated, not redelivered forever. While a handler
    runs, the message's ack deadline is extended (``in_progress``) so long work (e.g.
    transcoding) is not redelivered meanwhile; use ``batch=1`` for such handlers.

    A stream that is not a domain stream of this run (e.g. one written by another server,
    with fixed names) is consumed with `stream` and raw `subjects`; `decode` then turns
    the payload into the handler's message (raise DecodeError or ValueError to drop it).
    `inactive_threshold_seconds` lets the server delete a durable nobody used for that long.
    `concurrency` > 1 handles up to that many messages of a fetched batch at once (for
    handlers that are safe to run concurrently); each is still acked after its handler.
    """

    def __init__(self, bus: EventBus, *, domain: str, durable: str, events: Sequence[str],
                 message_type: type[M], handler: Handler[M], batch: int = 64,
                 backoff_seconds: Sequence[float] = (0.5, 2.0, 5.0, 15.0),
                 stream: str | None = None, subjects: Sequence[str] | None = None,
                 decode: Callable[[bytes], M] | None = None,
                 inactive_threshold_seconds: float | None = None, concurrency: int = 1) -> None:
        self.bus = bus
        self.domain = domain
        self.durable = durable
        self.stream = stream or bus.stream_name(domain)
        self.subjects = list(subjects) if subjects is not None else [
            bus.subject(domain, e) for e in events]
        self.message_type = message_type
        self.decode = decode or message_type.FromString
        self.handler = handler
        self.batch = batch
        self.backoff = list(backoff_seconds)
        self.inactive_threshold = inactive_threshold_seconds
        self.concurrency = max(1, concurrency)
        self._metrics = metrics.consumer(self.stream, self.durable)

    async def declare(self) -> None:
        """Create or update the durable consumer (idempotent)."""
        config = api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.bus.settings.ack_wait_seconds,
            max_deliver=self.bus.settings.max_deliver,
            filter_subjects=self.subjects,
            inactive_threshold=self.inactive_threshold,
        )
        await declared(f"consumer {self.durable} of {self.stream}",
                       lambda: self.bus.js.add_consumer(self.stream, config))

    async def run(self) -> None:
        await self.declare()
        self._metrics = metrics.consumer(self.stream, self.durable)
        sub = await self.bus.js.pull_subscribe_bind(self.durable, stream=self.stream)
        try:
            await self._consume(sub)
        finally:
            # A fetch cut short by cancellation leaves the server's reply to it queued on
            # the subscription; without unsubscribing, draining the connection would wait
            # for that reply to be read until its timeout.
            with contextlib.suppress(NatsError):  # closed or reconnecting: nothing to do
                await sub.unsubscribe()

    async def _consume(self, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(self.batch, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):  # nats-py raises both
                self._metrics.pending(0)  # nothing left to deliver
                continue
            except NatsError as exc:  # reconnecting: unacknowledged messages come back
                log.warning("%s: fetch failed, retrying: %r", self.durable, exc)
                await asyncio.sleep(1.0)
                continue
            if msgs and msgs[-1].metadata is not None:
                self._metrics.pending(msgs[-1].metadata.num_pending)
            if self.concurrency == 1:
                for msg in msgs:
                    await self._handle(msg)
                continue
            gate = asyncio.Semaphore(self.concurrency)

            async def bounded(msg: Msg, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    await self._handle(msg)

            await asyncio.gather(*(bounded(m) for m in msgs))

    async def _handle(self, msg: Msg) -> None:
        attempt = msg.metadata.num_delivered if msg.metadata else 1
        headers = msg.headers or {}
        traced = _tracer.start_as_current_span(
            f"{msg.subject} process", kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject,
                        "messaging.consumer.group.name": self.durable,
                        "messaging.delivery.attempt": attempt}) if telemetry.active() \
            else nullcontext(None)
        self._metrics.started(msg.metadata.timestamp if msg.metadata else None)
        started = time.perf_counter()
        with telemetry.extracted(headers), traced as span:
            try:
                event = self.decode(msg.data)
            except (DecodeError, ValueError):
                log.error("%s: undecodable %s message dropped", self.durable, msg.subject)
                await msg.term()
                self._metrics.handled("dropped")
                return
            heartbeat = asyncio.ensure_future(self._keep_alive(msg))
            try:
                await self.handler(event, Delivery(msg.subject, headers.get("Nats-Msg-Id"),
                                                   attempt))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - redeliver, never lose the event
                if span is not None:
                    span.record_exception(exc)
                delay = self.backoff[min(attempt - 1, len(self.backoff) - 1)]
                log.warning("%s: handling %s failed (attempt %d), retry in %.1fs: %r",
                            self.durable, msg.subject, attempt, delay, exc)
                await msg.nak(delay=delay)
                self._metrics.handled("retried", time.perf_counter() - started)
                return
            finally:
                heartbeat.cancel()
            await msg.ack()
            self._metrics.handled("acked", time.perf_counter() - started)

    async def _keep_alive(self, msg: Msg) -> None:
        """Extend the ack deadline of `msg` while its handler runs."""
        interval = max(self.bus.settings.ack_wait_seconds / 3, 0.5)
        while True:
            await asyncio.sleep(interval)
            try:
                await msg.in_progress()
            except NatsError as exc:
                log.warning("%s: could not extend ack deadline: %r", self.durable, exc)
