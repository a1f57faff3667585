"""The inbox on the real CQL store and Redis: grouping, replays, read state, and the
Redis copy staying exact while workers write and readers refill it."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from services.notification import grouping
from services.notification.cache import COMPLETE, encode
from services.notification.inbox import Inbox
from services.notification.model import Activity, Kind, Notification, Subject
from services.runtime.errors import NotFound


def like(recipient: str, actor: str, post_id: int, event: str | None = None) -> Activity:
    group = f"liked/{post_id}"
    return Activity(recipient, actor, Kind.POST_LIKED, group,
                    f"{event or uuid.uuid4()}/{group}", Subject(post_id=post_id))


def user() -> str:
    return str(uuid.uuid4())


async def listing(inbox: Inbox, user_id: str) -> list[Notification]:
    """The whole inbox as the CQL store holds it, newest first."""
    return [e.notification for e in await inbox.store.page(user_id, None, 0, 1000)]


async def cached(inbox: Inbox, redis, keys, user_id: str) -> list[bytes]:
    """The user's cached set, newest first (ACTIVE and COMPLETE left out)."""
    members = await redis.zrange(keys.key("in", "{" + user_id + "}"), 0, -1)
    return [m for m in reversed(members) if m not in (b"", COMPLETE)]


async def assert_cache_exact(inbox: Inbox, redis, keys, user_id: str) -> None:
    """The cached set holds exactly the newest `cap` entries of the CQL store, byte for
    byte, COMPLETE exactly when that is all of them, and the unread count is the store's."""
    entries = await inbox.store.page(user_id, None, 0, 1000)
    assert await cached(inbox, redis, keys, user_id) == [encode(e) for e in
                                                         entries[:inbox.cache.cap]]
    z = keys.key("in", "{" + user_id + "}")
    assert (await redis.zscore(z, COMPLETE) is not None) == (len(entries) <= inbox.cache.cap)
    mark = await inbox.store.read_mark(user_id)
    assert await inbox.unread_count(user_id) == await inbox.store.count_after(user_id, mark)


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
    assert grouped.kind == Kind.POST_LIKED and grouped.subject.post_id == 42
    assert grouped.actor_count == 4
    assert grouped.actor_ids == (actors[0], actors[3], actors[2])
    assert await inbox.unread_count(me) == 1


async def test_the_latest_activity_comes_first_and_keeps_its_group_id(make_inbox) -> None:
    inbox, me = make_inbox(), user()
    first = await inbox.add(like(me, user(), 1))
    await inbox.add(like(me, user(), 2))
    await inbox.add(like(me, user(), 1))  # post 1's group moves back to the top
    found = await listing(inbox, me)
    assert [n.subject.post_id for n in found] == [1, 2]
    assert first is not None
    assert found[0].notification_id == first.entry.notification.notification_id
    assert found[0].actor_count == 2


async def test_after_the_window_a_new_notification_starts(make_inbox) -> None:
    inbox, me = make_inbox(window_seconds=1), user()
    await inbox.add(like(me, user(), 5))
    await asyncio.sleep(1.1)  # the grouping window passes
    await inbox.add(like(me, user(), 5))
    found = await listing(inbox, me)
    assert [n.actor_count for n in found] == [1, 1]
    assert found[0].notification_id != found[1].notification_id


async def test_concurrent_likes_are_all_counted(make_inbox) -> None:
    me, actors = user(), [user() for _ in range(12)]
    # Separate Inbox objects stand in for separate worker processes.
    workers = [make_inbox() for _ in range(4)]
    await asyncio.gather(*(workers[i % 4].add(like(me, a, 9)) for i, a in enumerate(actors)))
    found = await listing(workers[0], me)
    assert len(found) == 1 and found[0].actor_count == 12


async def test_unread_count_and_mark_read(make_inbox, redis, keys) -> None:
    inbox, me = make_inbox(), user()
    older = (await inbox.add(like(me, user(), 1))).entry.notification  # type: ignore[union-attr]
    await inbox.add(like(me, user(), 2))
    newest = (await inbox.add(like(me, user(), 3))).entry.notification  # type: ignore[union-attr]
    assert await inbox.unread_count(me) == 3

    assert await inbox.mark_read(me, up_to_notification_id=older.notification_id) == 2
    mark = await inbox.store.read_mark(me)
    assert [(e.notification.subject.post_id, e.sort_id <= mark)
            for e in await inbox.store.page(me, None, 0, 10)] == [(3, False), (2, False),
                                                                   (1, True)]
    assert await inbox.mark_read(me, up_to_ms=newest.time_ms) == 0
    # A read group that gains an actor is unread again, at the top.
    await inbox.add(like(me, user(), 1))
    assert await inbox.unread_count(me) == 1
    # The Redis copy is a cache: rebuilt from CQL when Redis has lost it.
    await redis.delete(keys.key("in", "{" + me + "}"), keys.key("im", "{" + me + "}"))
    assert await inbox.unread_count(me) == 1
    assert await inbox.mark_read(me) == 0
    # The watermark only rises: a mark below it changes nothing.
    assert await inbox.mark_read(me, up_to_notification_id=older.notification_id) == 0
    assert await inbox.store.read_mark(me) >= mark


async def test_more_unread_than_the_cache_holds_are_counted_exactly(make_inbox) -> None:
    inbox, me = make_inbox(cap=3), user()
    posts = list(range(1, 7))
    added = [await inbox.add(like(me, user(), p)) for p in posts]
    assert await inbox.unread_count(me) == 6  # counted in CQL, then kept as a counter
    await inbox.add(like(me, user(), 7))  # the worker moves the counter
    assert await inbox.unread_count(me) == 7
    await inbox.add(like(me, user(), 2))  # an unread one regroups: still 7
    assert await inbox.unread_count(me) == 7
    second = added[1].entry.notification.notification_id  # type: ignore[union-attr]
    # Post 2's notification moved to the top: marking up to its old position would be
    # "up to its new one"; mark up to post 3's instead (the 3rd oldest entry).
    third = added[2].entry.notification.notification_id  # type: ignore[union-attr]
    assert await inbox.mark_read(me, up_to_notification_id=third) == 5
    assert second != third
    assert await inbox.unread_count(me) == 5


async def test_marking_read_up_to_an_unknown_notification_is_not_found(make_inbox) -> None:
    with pytest.raises(NotFound) as err:
        await make_inbox().mark_read(user(), up_to_notification_id=12345)
    assert err.value.reason == "NOTIFICATION_NOT_FOUND"


async def test_a_replay_writes_what_an_interrupted_attempt_did_not(make_inbox, redis,
                                                                   keys) -> None:
    """The worker stopped between its CQL write and its Redis write: the event comes back,
    changes nothing in the store, and puts the entry into the cached inbox."""
    inbox, me = make_inbox(), user()
    await inbox.add(like(me, user(), 1))
    await inbox.refill(me)
    interrupted = like(me, user(), 2)
    state = await inbox.store.state(me, interrupted.group_key, interrupted.actor_id,
                                    interrupted.event_key)
    change = grouping.apply(state, interrupted, inbox._ids.next_id(), 3600_000)
    done, _ = await inbox.store.apply(me, interrupted.group_key, interrupted.actor_id,
                                      interrupted.event_key, state, change)
    assert done
    assert len(await cached(inbox, redis, keys, me)) == 1  # Redis missed it
    assert await inbox.add(interrupted) is None  # the replay
    assert len(await listing(inbox, me)) == 2
    await assert_cache_exact(inbox, redis, keys, me)


async def test_the_cached_inbox_stays_exact_under_concurrent_deliveries_and_refills(
        make_inbox, redis, keys) -> None:
    me = user()
    actors = [user() for _ in range(8)]
    rng = random.Random(7)
    activities = [like(me, rng.choice(actors), rng.randrange(12)) for _ in range(60)]
    activities += rng.sample(activities, 10)  # replays
    workers = [make_inbox(cap=10) for _ in range(3)]
    reader = make_inbox(cap=10)
    await reader.refill(me)
    done = asyncio.Event()

    async def deliver(worker: Inbox, share: list[Activity]) -> None:
        for activity in share:
            await worker.add(activity)

    async def read_and_lose() -> None:
        """Refill, read, mark, and now and then lose the keys (as expiry would)."""
        while not done.is_set():
            if rng.random() < 0.4:
                await redis.delete(keys.key("in", "{" + me + "}"), keys.key("im", "{" + me + "}"))
            await reader.unread_count(me)
            if rng.random() < 0.2:
                await reader.mark_read(me)
            await asyncio.sleep(0.005)

    readers = [asyncio.ensure_future(read_and_lose()) for _ in range(2)]
    await asyncio.gather(*(deliver(w, activities[i::3]) for i, w in enumerate(workers)))
    done.set()
    await asyncio.gather(*readers)

    found = await listing(reader, me)
    expected: dict[int, set[str]] = {}
    for a in activities:
        expected.setdefault(a.subject.post_id, set()).add(a.actor_id)
    assert {n.subject.post_id: n.actor_count for n in found} == {
        p: len(s) for p, s in expected.items()}
    await assert_cache_exact(reader, redis, keys, me)
    # One more delivery lands in the cache exactly too.
    await workers[0].add(like(me, user(), 99))
    await assert_cache_exact(reader, redis, keys, me)
