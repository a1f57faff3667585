"""The timeline layer on the real CQL store and Redis: idempotent fan-out writes, the
cache of active users, its cap and the continuation into the CQL store, purge/backfill."""

from __future__ import annotations

import uuid

from services.feed.timelines import Timelines
from services.runtime.ids import Snowflake

_ids = Snowflake(1000)


def _users(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


async def _cql_rows(timelines: Timelines, user_id: str) -> list[int]:
    return await timelines.store.timeline(user_id, before=None, limit=1000)


async def test_a_replayed_batch_writes_nothing_twice(timelines: Timelines) -> None:
    author, recipients = str(uuid.uuid4()), _users(3)
    await timelines.rebuild(recipients[0])  # one of them is active: cached too
    post = _ids.next_id()
    for _ in range(3):
        await timelines.deliver(post, author, recipients)
    for user in recipients:
        assert await _cql_rows(timelines, user) == [post]
    assert await timelines.page(recipients[0], None, 10) == [post]
    cached, ids, _ = await timelines.cache.read(recipients[0], None, 10)
    assert cached and ids == [post]


async def test_only_active_users_are_cached_and_a_cold_read_rebuilds(
        timelines: Timelines) -> None:
    author, (active, inactive) = str(uuid.uuid4()), _users(2)
    await timelines.rebuild(active)
    posts = [_ids.next_id() for _ in range(3)]
    for post in posts:
        await timelines.deliver(post, author, [active, inactive])
    assert (await timelines.cache.read(active, None, 10))[1] == posts[::-1]
    cached, _, _ = await timelines.cache.read(inactive, None, 10)
    assert not cached  # no fan-out into Redis for inactive users
    assert await timelines.page(inactive, None, 10) == posts[::-1]  # rebuilt from CQL
    cached, ids, complete = await timelines.cache.read(inactive, None, 10)
    assert cached and complete and ids == posts[::-1]


async def test_pages_continue_past_the_cache_cap_into_the_cql_store(
        timelines: Timelines) -> None:
    author, (user,) = str(uuid.uuid4()), _users(1)
    await timelines.rebuild(user)
    posts = [_ids.next_id() for _ in range(20)]
    for post in posts:
        await timelines.deliver(post, author, [user])
    newest_first = posts[::-1]
    cached, in_cache, complete = await timelines.cache.read(user, None, 100)
    assert cached and not complete
    assert len(in_cache) < 20 and in_cache == newest_first[:len(in_cache)]  # capped
    seen: list[int] = []
    before = None
    while page := await timelines.page(user, before, 6):
        seen += page
        before = page[-1]
    assert seen == newest_first


async def test_unfollow_purges_and_follow_backfills_an_author(timelines: Timelines) -> None:
    kept, purged, (user,) = str(uuid.uuid4()), str(uuid.uuid4()), _users(1)
    await timelines.rebuild(user)
    kept_post = _ids.next_id()
    await timelines.record_author_post(kept, kept_post)
    await timelines.deliver(kept_post, kept, [user])
    purged_posts = [_ids.next_id() for _ in range(3)]
    for post in purged_posts:
        await timelines.record_author_post(purged, post)
        await timelines.deliver(post, purged, [user])
    await timelines.purge(user, purged)
    assert await timelines.page(user, None, 10) == [kept_post]
    assert await _cql_rows(timelines, user) == [kept_post]
    assert await timelines.backfill(user, purged) == 3
    assert await timelines.page(user, None, 10) == sorted([kept_post, *purged_posts],
                                                           reverse=True)


async def test_missing_posts_are_dropped_from_both_stores(timelines: Timelines) -> None:
    author, (user,) = str(uuid.uuid4()), _users(1)
    await timelines.rebuild(user)
    posts = [_ids.next_id() for _ in range(3)]
    for post in posts:
        await timelines.deliver(post, author, [user])
    await timelines.drop_missing(user, [posts[1]])
    assert await timelines.page(user, None, 10) == [posts[2], posts[0]]
    assert await _cql_rows(timelines, user) == [posts[2], posts[0]]


async def test_celebrities_are_listed_and_their_posts_read_from_the_cql_store_when_cold(
        timelines: Timelines) -> None:
    celeb = str(uuid.uuid4())
    posts = [_ids.next_id() for _ in range(4)]
    for post in posts:
        await timelines.record_author_post(celeb, post)
    await timelines.mark_celebrity(celeb, posts[-1])
    celebrities, _ = await timelines.celebrities()
    assert celeb in celebrities
    # Not cached yet: loaded from feed_author_posts, then served from Redis.
    assert await timelines.author_posts([celeb], None, 3) == posts[::-1][:3]
    assert await timelines.author_posts([celeb], posts[2], 10) == posts[:2][::-1]
