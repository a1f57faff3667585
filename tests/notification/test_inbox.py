"""The inbox rules on the real CQL store and Redis: grouping, replays, read state."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from photomesh.notification.v1 import notification_service_pb2 as pb

from services.notification.activities import Activity
from services.runtime.errors import NotFound


def like(recipient: str, actor: str, post_id: int, event: str | None = None) -> Activity:
    group = f"liked/{post_id}"
    return Activity(recipient, actor, pb.NOTIFICATION_TYPE_POST_LIKED, group,
                    f"{event or uuid.uuid4()}/{group}", post_id=post_id)


def user() -> str:
    return str(uuid.uuid4())


async def listing(inbox, user_id: str, unread_only: bool = False) -> list[pb.Notification]:
    found, _, _ = await inbox.page(user_id, unread_only, 100, None, None)
    return found


async def test_a_replayed_event_creates_nothing(make_inbox) -> None:
    inbox, me, actor = make_inbox(), user(), user()
    activity = like(me, actor, 7)
    first = await inbox.add(activity)
    again = await inbox.add(activity)
    assert first is not None and again is None
    found = await listing(inbox, me)
    assert len(found) == 1 and found[0].actor_count == 1
    assert await inbox.unread_count(me) == 1


async def test_likes_of_one_post_group_into_one_notification(make_inbox) -> None:
    inbox, me = make_inbox(), user()
    actors = [user() for _ in range(4)]
    for actor in actors:
        await inbox.add(like(me, actor, 42))
    await inbox.add(like(me, actors[0], 42))  # the same actor again: not counted twice
    found = await listing(inbox, me)
    assert len(found) == 1
    grouped = found[0]
    assert grouped.type == pb.NOTIFICATION_TYPE_POST_LIKED and grouped.post_id == 42
    assert grouped.actor_count == 4
    assert [a.user_id for a in grouped.actors] == [actors[0], actors[3], actors[2]]
    assert await inbox.unread_count(me) == 1


async def test_the_latest_activity_comes_first_and_keeps_its_group_id(make_inbox) -> None:
    inbox, me = make_inbox(), user()
    first = await inbox.add(like(me, user(), 1))
    await inbox.add(like(me, user(), 2))
    await inbox.add(like(me, user(), 1))  # post 1's group moves back to the top
    found = await listing(inbox, me)
    assert [n.post_id for n in found] == [1, 2]
    assert found[0].notification_id == first.notification.notification_id
    assert found[0].actor_count == 2


async def test_after_the_window_a_new_notification_starts(make_inbox) -> None:
    inbox, me = make_inbox(window_seconds=1), user()
    await inbox.add(like(me, user(), 5))
    await asyncio.sleep(1.1)  # the grouping window passes
    await inbox.add(like(me, user(), 5))
    found = await listing(inbox, me)
    assert [n.actor_count for n in found] == [1, 1]
    assert found[0].notification_id != found[1].notification_id


async def test_concurrent_likes_are_all_counted(make_inbox, cql, notification_cache, ids) -> None:
    from services.notification.inbox import Inbox
    from services.notification.store import InboxStore

    me, actors = user(), [user() for _ in range(12)]
    # Separate Inbox objects stand in for separate worker processes.
    workers = [Inbox(InboxStore(cql), notification_cache, ids) for _ in range(4)]
    await asyncio.gather(*(workers[i % 4].add(like(me, a, 9)) for i, a in enumerate(actors)))
    found = await listing(workers[0], me)
    assert len(found) == 1 and found[0].actor_count == 12


async def test_unread_count_and_mark_read(make_inbox, notification_cache) -> None:
    inbox, me = make_inbox(), user()
    older = (await inbox.add(like(me, user(), 1))).notification
    await inbox.add(like(me, user(), 2))
    newest = (await inbox.add(like(me, user(), 3))).notification
    assert await inbox.unread_count(me) == 3

    assert await inbox.mark_read(me, up_to_notification_id=older.notification_id) == 2
    found = await listing(inbox, me)
    assert [(n.post_id, n.read) for n in found] == [(3, False), (2, False), (1, True)]
    assert [n.post_id for n in await listing(inbox, me, unread_only=True)] == [3, 2]

    assert await inbox.mark_read(me, up_to_ms=newest.create_time.ToMilliseconds()) == 0
    # A read group that gains an actor is unread again, at the top.
    await inbox.add(like(me, user(), 1))
    assert await inbox.unread_count(me) == 1
    # The counter is a cache: rebuilt from CQL when Redis has lost it.
    await notification_cache._redis.delete(notification_cache._unread(me))
    assert await inbox.unread_count(me) == 1
    assert await inbox.mark_read(me) == 0
    assert all(n.read for n in await listing(inbox, me))


async def test_marking_read_up_to_an_unknown_notification_is_not_found(make_inbox) -> None:
    with pytest.raises(NotFound) as err:
        await make_inbox().mark_read(user(), up_to_notification_id=12345)
    assert err.value.reason == "NOTIFICATION_NOT_FOUND"
