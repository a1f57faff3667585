"""A new message also makes a notification for the other members (the notification
worker consumes ``message.sent``), grouped per thread."""

from __future__ import annotations

from photomesh.notification.v1 import notification_service_pb2 as npb
from photomesh.notification.v1 import notification_service_pb2_grpc as npb_grpc

from tests.feed.support import eventually
from tests.message.conftest import direct, send


async def test_a_message_notifies_the_recipient_once_per_thread(dm, channel_to,
                                                                make_users) -> None:
    a, b = await make_users(2)
    thread = await direct(dm, a, b)
    await send(dm, a, thread.thread_id, "first")
    await send(dm, a, thread.thread_id, "second")
    notifications = npb_grpc.NotificationServiceStub(channel_to("notification"))

    async def listed() -> list[npb.Notification]:
        reply = await notifications.ListNotifications(npb.ListNotificationsRequest(),
                                                      metadata=b.md)
        return [n for n in reply.notifications
                if n.type == npb.NOTIFICATION_TYPE_MESSAGE_RECEIVED]

    found = await eventually(listed, lambda ns: len(ns) == 1 and
                             ns[0].text_preview == "second")
    assert [actor.user_id for actor in found[0].actors] == [a.user_id]
    assert await _mine(notifications, a) == []  # the sender is not notified


async def _mine(notifications, user):  # type: ignore[no-untyped-def]
    reply = await notifications.ListNotifications(npb.ListNotificationsRequest(),
                                                  metadata=user.md)
    return [n for n in reply.notifications if n.type == npb.NOTIFICATION_TYPE_MESSAGE_RECEIVED]
