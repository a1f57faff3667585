"""Run the message service: ``python -m services.message``."""

from __future__ import annotations

from photomesh.message.v1 import message_service_pb2 as pb

from services.message import wiring
from services.message.conversation import SENT, UNSENT, Conversation
from services.message.events import MessageEvents
from services.message.inbox import Inbox
from services.message.live import Live
from services.message.server import MessageServicer
from services.message.settings import MessageSettings
from services.message.threads import THREAD_CHANGE, Threads
from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.pending import PendingChanges, Sweeper, SweepTiming
from services.runtime.stream_hub import StreamHub


async def build(ctx: Context[MessageSettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.events and backends.ids
    parts = await wiring.connect(ctx)
    events = MessageEvents(backends.events)
    pending = PendingChanges(backends.cql, wiring.NAME, SweepTiming(
        slot_seconds=settings.sweep_slot_seconds, grace_seconds=3 * settings.sweep_slot_seconds,
        sweep_seconds=settings.sweep_seconds))
    threads = Threads(parts.access, events, pending)
    conversation = Conversation(parts.access, parts.messages, events, pending, backends.ids,
                                ctx.peers.media, ctx.peers.post, ctx.page_tokens)
    inbox = Inbox(parts.access, threads, parts.inbox, parts.cache, ctx.page_tokens)
    hub = StreamHub(wiring.NAME, backends.redis, parts.cache, settings.stream_queue_size)
    # Sends, unsends and thread changes whose event did not go out are announced here.
    sweeper = Sweeper(pending, {SENT: conversation.settle, UNSENT: conversation.settle,
                                THREAD_CHANGE: threads.settle})
    servicer = MessageServicer(threads, conversation, inbox, Live(hub, inbox, parts.view))
    return Built(definition(wiring.NAME, pb, "MessageService", servicer),
                 background=[hub.run(), sweeper.run(),
                             *(c.run() for c in parts.view_consumers)],
                 domain=conversation)


if __name__ == "__main__":
    main(wiring.NAME, MessageSettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
