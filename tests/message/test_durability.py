"""Nothing a sender was told was sent is lost: a message stored but whose event never went
out (the process died between the two) is announced by the service's sweeper, with the
same event id, and reaches the inboxes; announcing it twice changes nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from photomesh.message.v1 import message_service_pb2 as pb

from services.message.access import Access
from services.message.conversation import SENT, Conversation
from services.message.events import MessageEvents
from services.message.model import MessageRecord
from services.message.store.messages import MessageRows
from services.message.store.threads import ThreadRows
from services.runtime.clock import timestamp_from_ms
from services.runtime.cql import CqlStore
from services.runtime.events import EventBus
from services.runtime.ids import Snowflake, id_time_ms
from services.runtime.pending import PendingChanges, Sweeper, SweepTiming
from services.runtime.settings import CqlSettings, NatsSettings, load
from tests.feed.support import eventually
from tests.message.conftest import direct, send, threads

TEST_WORKER_ID = 1001  # ids made in the test process never collide with the services'


@pytest.fixture
async def parts(mesh) -> AsyncIterator[tuple[CqlStore, EventBus]]:
    cql = await CqlStore.connect(load(CqlSettings))
    await cql.use_keyspace()
    bus = await EventBus.connect(load(NatsSettings), "tests")
    yield cql, bus
    await bus.close()
    await cql.close()


async def test_a_message_whose_event_never_went_out_is_announced_by_the_sweeper(
        parts, dm, make_users) -> None:
    cql, bus = parts
    a, b = await make_users(2)
    thread = await direct(dm, a, b)
    rows = MessageRows(cql, bucket_days=30)
    conversation = Conversation(Access(ThreadRows(cql), None),  # type: ignore[arg-type]
                                rows, MessageEvents(bus), None, None, None, None,  # type: ignore[arg-type]
                                None)  # type: ignore[arg-type]
    # What SendMessage leaves when killed after its CQL write, before its publish: the
    # message row and its pending row.
    message_id = Snowflake(TEST_WORKER_ID).next_id()
    body = pb.Message(message_id=message_id, thread_id=thread.thread_id,
                      sender_user_id=a.user_id, text="survived",
                      create_time=timestamp_from_ms(id_time_ms(message_id)))
    pending = PendingChanges(cql, f"message-test-{time.time_ns()}",
                             SweepTiming(slot_seconds=1, grace_seconds=0.0))
    await pending.begin(SENT, f"{thread.thread_id}:{message_id}")
    await rows.insert(MessageRecord(thread.thread_id, message_id, a.user_id,
                                    body.SerializeToString(), None))
    sweeper = Sweeper(pending, {SENT: conversation.settle})
    await sweeper.sweep()
    assert sweeper.finished == 1
    # b does not follow a: the message is a request for b.
    listed = await eventually(lambda: threads(dm, b, pb.FOLDER_REQUESTS),
                              lambda ts: len(ts) == 1)
    assert listed[0].last_message.text == "survived" and listed[0].unread_count == 1
    # Announced again (a second sweeper, a replay): still one unread message.
    await conversation.settle(f"{thread.thread_id}:{message_id}")
    await send(dm, a, thread.thread_id, "after")  # the replay was dropped or changed nothing
    listed = await eventually(lambda: threads(dm, b, pb.FOLDER_REQUESTS),
                              lambda ts: bool(ts) and ts[0].last_message.text == "after"
                              and ts[0].unread_count >= 2)
    assert listed[0].unread_count == 2
