"""The message inbox worker: ``python -m services.message.workers.inbox`` (process
``message_worker``; scaled by running more, JetStream shares each durable consumer
between them). It consumes the message service's events on the durable consumers declared
here and keeps every member's inbox entry, unread counts and live pushes
(services/message/keeper.py), each event acked after its CQL writes; it also keeps the
social view it reads member summaries from, sharing that view's consumers with the
service; it serves only gRPC health.
"""

from __future__ import annotations

from photomesh.message.v1 import events_pb2 as message_events

from services.message import wiring
from services.message.events import DOMAIN, SENT, THREAD_CHANGED, UNSENT
from services.message.keeper import InboxKeeper
from services.message.settings import MessageSettings
from services.runtime.app import Built, Context, Needs, main, worker_definition
from services.runtime.events import Consumer, EventBus

NAME = "message_worker"


def consumers(keeper: InboxKeeper, bus: EventBus, concurrency: int) -> list[Consumer]:
    """The worker's durable consumers, each event acked after its inbox writes."""
    subscriptions = (
        (SENT, message_events.MessageSentEvent, keeper.on_sent),
        (UNSENT, message_events.MessageUnsentEvent, keeper.on_unsent),
        (THREAD_CHANGED, message_events.ThreadChangedEvent, keeper.on_thread_changed),
    )
    return [Consumer(bus, domain=DOMAIN, durable=f"message_inbox_{event}", events=[event],
                     message_type=message_type,  # type: ignore[arg-type]
                     handler=handler, concurrency=concurrency)  # type: ignore[arg-type]
            for event, message_type, handler in subscriptions]


async def build(ctx: Context[MessageSettings]) -> Built:
    bus = ctx.backends.events
    assert bus is not None
    parts = await wiring.connect(ctx)
    keeper = InboxKeeper(parts.access.threads, parts.messages, parts.inbox, parts.cache,
                         parts.view)
    return Built(worker_definition(NAME), background=[
        *(c.run() for c in consumers(keeper, bus, ctx.settings.consume_concurrency)),
        *(c.run() for c in parts.view_consumers)])


if __name__ == "__main__":
    main(NAME, MessageSettings, Needs(cql=True, redis=True, nats=True), build)
