"""The message service's events on the ``message`` stream
(photomesh/message/v1/events.proto).

Each event's id is derived from what it reports (``message.sent:<thread>:<message>`` …),
so a republish by the sweeper (services/runtime/pending.py) or a retried call carries the
same ``Nats-Msg-Id`` and event id: JetStream drops the duplicate within its window, and
the worker's writes are idempotent beyond it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from photomesh.message.v1 import events_pb2 as ev

from services.message.model import ThreadRecord
from services.runtime.clock import now_ms, timestamp_from_ms
from services.runtime.events import EventBus
from services.runtime.ids import id_time_ms

DOMAIN = "message"
SENT, UNSENT, THREAD_CHANGED = "sent", "unsent", "thread_changed"
_NAMESPACE = uuid.UUID("9c4e2b7a-1f3d-4a6e-8b25-7d0c3e5f9a12")


def _event_id(msg_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, msg_id))


class MessageEvents:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def ensure_stream(self) -> None:
        await self._bus.ensure_stream(DOMAIN)

    async def sent(self, thread: ThreadRecord, message_id: int, sender_id: str,
                   preview: str) -> None:
        msg_id = f"message.sent:{thread.thread_id}:{message_id}"
        await self._bus.publish(DOMAIN, SENT, ev.MessageSentEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_ms(id_time_ms(message_id)),
            thread_id=thread.thread_id, message_id=message_id, sender_user_id=sender_id,
            member_user_ids=sorted(thread.members), text_preview=preview,
            group=thread.kind == 2), msg_id=msg_id)

    async def unsent(self, thread: ThreadRecord, message_id: int) -> None:
        msg_id = f"message.unsent:{thread.thread_id}:{message_id}"
        await self._bus.publish(DOMAIN, UNSENT, ev.MessageUnsentEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_ms(now_ms()),
            thread_id=thread.thread_id, message_id=message_id,
            member_user_ids=sorted(thread.members)), msg_id=msg_id)

    async def thread_changed(self, thread: ThreadRecord, actor_id: str,
                             removed: Sequence[str] = ()) -> None:
        msg_id = f"message.thread_changed:{thread.thread_id}:{thread.version}"
        await self._bus.publish(DOMAIN, THREAD_CHANGED, ev.ThreadChangedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_ms(now_ms()),
            thread_id=thread.thread_id, member_user_ids=sorted(thread.members),
            removed_user_ids=sorted(set(removed) | (thread.gone - set(thread.members))),
            actor_user_id=actor_id), msg_id=msg_id)
