"""The worker end to end: real graph/post/story events on JetStream in, inboxes, unread
counts and the live stream out, through NotificationService's gRPC contract.

The worker handles the events of one subject concurrently, so "nothing arrived" is checked
only once the worker has acknowledged (and so stored the effect of) every event up to the
last one published: `handled` waits for its durable consumer's ack floor to get there.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import pytest
from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import story_service_pb2 as story_pb
from photomesh.story.v1 import story_service_pb2_grpc as story_grpc

from tests.graph_support import Users, block, follow, graph_stub
from tests.helpers import error_info


@pytest.fixture
def notifications(channel_to) -> pb_grpc.NotificationServiceStub:
    return pb_grpc.NotificationServiceStub(channel_to("notification"))


async def listed(notifications, user, **kwargs) -> list[pb.Notification]:
    reply = await notifications.ListNotifications(pb.ListNotificationsRequest(**kwargs),
                                                  metadata=user.md)
    return list(reply.notifications)


async def wait_for(notifications, user, check, timeout: float = 20.0) -> list[pb.Notification]:
    """Poll the inbox until `check(inbox)` holds; fail with what was there."""
    deadline = time.monotonic() + timeout
    while True:
        found = await listed(notifications, user)
        if check(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"inbox never matched; it holds {found}")
        await asyncio.sleep(0.1)


async def handled(bus, domain: str, event: str, seq: int, timeout: float = 20.0) -> None:
    """Wait until the notification worker has acknowledged every `<domain>.<event>` event
    up to stream sequence `seq`: it acknowledges an event only after storing its effect."""
    stream, durable = bus.stream_name(domain), f"notification_{domain}_{event}"
    deadline = time.monotonic() + timeout
    while True:
        floor = (await bus.js.consumer_info(stream, durable)).ack_floor.stream_seq
        if floor >= seq:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{durable} acknowledged up to {floor}, not {seq}")
        await asyncio.sleep(0.1)


async def like(bus, post_id: int, author: str, liker: str, event_id: str | None = None,
               msg_id: str | None = None) -> int:
    """Publish a PostLikedEvent; returns its stream sequence."""
    event_id = event_id or str(uuid.uuid4())
    return await bus.publish("post", "liked", post_events.PostLikedEvent(
        event_id=event_id, post_id=post_id, post_author_user_id=author, liker_user_id=liker),
        msg_id=msg_id or event_id)


async def test_a_new_follower_is_notified_through_the_real_graph(notifications,
                                                                 channel_to) -> None:
    alice, bob = await Users.register(channel_to("auth"), 2)
    await follow(graph_stub(channel_to("graph")), bob, alice.user_id)
    found = await wait_for(notifications, alice, lambda n: len(n) == 1)
    assert found[0].type == pb.NOTIFICATION_TYPE_NEW_FOLLOWER
    assert [(a.user_id, a.username) for a in found[0].actors] == [(bob.user_id, bob.username)]
    assert not found[0].read
    assert await listed(notifications, bob) == []  # the actor hears nothing of it


async def test_a_replayed_event_changes_nothing(bus, notifications, channel_to) -> None:
    me, fan, other = await Users.register(channel_to("auth"), 3)

    def followed(follower) -> graph_events.FollowedEvent:
        return graph_events.FollowedEvent(event_id=str(uuid.uuid4()),
                                          follower_user_id=follower.user_id,
                                          followee_user_id=me.user_id)

    first, second = followed(fan), followed(other)
    await bus.publish("graph", "followed", first, msg_id=first.event_id)
    await wait_for(notifications, me, lambda n: len(n) == 1)
    await bus.publish("graph", "followed", second, msg_id=second.event_id)
    (grouped,) = await wait_for(notifications, me, lambda n: n and n[0].actor_count == 2)
    assert [a.user_id for a in grouped.actors] == [other.user_id, fan.user_id]
    await notifications.MarkNotificationsRead(pb.MarkNotificationsReadRequest(),
                                              metadata=me.md)
    # The first event again, past JetStream's de-duplication (another message id). Handled
    # twice, it would move `fan` to the front, refresh the group and make it unread again.
    seq = await bus.publish("graph", "followed", first, msg_id=str(uuid.uuid4()))
    await handled(bus, "graph", "followed", seq)
    (after,) = await listed(notifications, me)
    assert after.read
    after.read = False
    assert after == grouped
    assert (await notifications.GetUnreadCount(pb.GetUnreadCountRequest(),
                                               metadata=me.md)).unread_count == 0


async def test_likes_group_and_own_or_blocked_likes_notify_nobody(bus, notifications,
                                                                  channel_to) -> None:
    author, pest, *fans = await Users.register(channel_to("auth"), 5)
    await block(graph_stub(channel_to("graph")), author, pest.user_id)
    await like(bus, 501, author.user_id, author.user_id)  # own like
    await like(bus, 501, author.user_id, pest.user_id)  # blocked by the author
    last = 0
    for fan in fans:
        last = await like(bus, 501, author.user_id, fan.user_id)
    await handled(bus, "post", "liked", last)
    found = await listed(notifications, author)
    assert len(found) == 1
    grouped = found[0]
    assert grouped.type == pb.NOTIFICATION_TYPE_POST_LIKED and grouped.post_id == 501
    assert grouped.actor_count == 3
    # The worker handles events concurrently: the three fans are all there, in the order
    # their events were stored (not necessarily the order they were published).
    assert sorted(a.user_id for a in grouped.actors) == sorted(f.user_id for f in fans)


async def test_the_blocked_side_is_not_notified_either(bus, notifications, channel_to) -> None:
    author, blocker, fan = await Users.register(channel_to("auth"), 3)
    # `blocker` blocked the author: the author hears nothing from them.
    await block(graph_stub(channel_to("graph")), blocker, author.user_id)
    await like(bus, 502, author.user_id, blocker.user_id)
    last = await like(bus, 502, author.user_id, fan.user_id)
    await handled(bus, "post", "liked", last)
    found = await listed(notifications, author)
    assert [([a.user_id for a in n.actors], n.actor_count) for n in found] == [
        ([fan.user_id], 1)]


async def test_comments_replies_and_mentions(bus, notifications, channel_to) -> None:
    post_author, parent_author, commenter, mentioned = await Users.register(
        channel_to("auth"), 4)
    event = post_events.CommentAddedEvent(
        event_id=str(uuid.uuid4()), comment_id=77, post_id=700,
        post_author_user_id=post_author.user_id, commenter_user_id=commenter.user_id,
        parent_comment_id=70, parent_comment_author_user_id=parent_author.user_id,
        mentioned_user_ids=[mentioned.user_id, commenter.user_id, post_author.user_id],
        text_preview="nice one @someone")
    await bus.publish("post", "comment_added", event, msg_id=event.event_id)
    for user, type_ in ((post_author, pb.NOTIFICATION_TYPE_COMMENT_ADDED),
                        (parent_author, pb.NOTIFICATION_TYPE_COMMENT_ADDED),
                        (mentioned, pb.NOTIFICATION_TYPE_MENTIONED)):
        (n,) = await wait_for(notifications, user, lambda n: len(n) == 1)
        assert (n.type, n.post_id, n.comment_id) == (type_, 700, 77)
        assert n.text_preview == "nice one @someone"
    assert await listed(notifications, commenter) == []


async def test_followers_hear_of_a_new_story(notifications, channel_to) -> None:
    author, follower = await Users.register(channel_to("auth"), 2)
    await follow(graph_stub(channel_to("graph")), follower, author.user_id)
    stories = story_grpc.StoryServiceStub(channel_to("story"))
    story = (await stories.CreateStory(story_pb.CreateStoryRequest(
        request_id=str(uuid.uuid4()), text="new!"), metadata=author.md)).story
    found = await wait_for(notifications, follower,
                           lambda n: any(x.type == pb.NOTIFICATION_TYPE_STORY_PUBLISHED
                                         for x in n))
    assert [(n.story_id, n.actors[0].user_id) for n in found
            if n.type == pb.NOTIFICATION_TYPE_STORY_PUBLISHED] == [(story.story_id,
                                                                   author.user_id)]


async def test_unread_count_and_mark_read(bus, notifications, channel_to) -> None:
    me, *fans = await Users.register(channel_to("auth"), 4)
    for i, fan in enumerate(fans):
        await like(bus, 900 + i, me.user_id, fan.user_id)
    found = await wait_for(notifications, me, lambda n: len(n) == 3)
    unread = await notifications.GetUnreadCount(pb.GetUnreadCountRequest(), metadata=me.md)
    assert unread.unread_count == 3
    left = await notifications.MarkNotificationsRead(pb.MarkNotificationsReadRequest(
        up_to_notification_id=found[1].notification_id), metadata=me.md)
    assert left.unread_count == 1
    unread_only = await listed(notifications, me, unread_only=True)
    assert [n.notification_id for n in unread_only] == [found[0].notification_id]
    page = await notifications.ListNotifications(pb.ListNotificationsRequest(page_size=2),
                                                 metadata=me.md)
    assert [n.read for n in page.notifications] == [False, True] and page.next_page_token
    left = await notifications.MarkNotificationsRead(pb.MarkNotificationsReadRequest(),
                                                     metadata=me.md)
    assert left.unread_count == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await notifications.MarkNotificationsRead(pb.MarkNotificationsReadRequest(
            up_to_notification_id=123), metadata=me.md)
    assert error_info(err.value).reason == "NOTIFICATION_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await notifications.ListNotifications(pb.ListNotificationsRequest(page_size=-1),
                                              metadata=me.md)
    assert error_info(err.value).reason == "PAGE_SIZE_INVALID"


async def test_the_stream_pushes_new_notifications(bus, notifications, channel_to) -> None:
    me, fan = await Users.register(channel_to("auth"), 2)
    call = notifications.StreamNotifications(pb.StreamNotificationsRequest(), metadata=me.md)

    async def first() -> pb.StreamNotificationsResponse:
        async for message in call:
            return message
        raise AssertionError("stream ended")

    receive = asyncio.create_task(first())
    try:
        # The stream may register a moment after the call starts: like again (another
        # post) until something arrives.
        deadline = time.monotonic() + 20
        post_id = 1000
        while not receive.done() and time.monotonic() < deadline:
            post_id += 1
            await like(bus, post_id, me.user_id, fan.user_id)
            await asyncio.wait({receive}, timeout=1.0)
        message = receive.result()
    finally:
        call.cancel()
    assert message.notification.type == pb.NOTIFICATION_TYPE_POST_LIKED
    assert 1000 < message.notification.post_id <= post_id
    assert message.notification.actors[0].username == fan.username
    # Each like was on another post: one more unread notification each, in order.
    assert message.unread_count == message.notification.post_id - 1000
