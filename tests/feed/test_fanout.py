"""Fan-out through the whole mesh: post created → worker → followers' timelines; replays,
celebrities, cold rebuilds, follow/unfollow/block and deletes."""

from __future__ import annotations

import uuid

import pytest
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.post.v1 import post_service_pb2 as ppb

from services.feed.timelines import Timelines
from services.runtime.events import EventBus
from services.runtime.settings import NatsSettings, load
from tests.feed.support import APPLIED_WITHIN, World, eventually
from tests.graph_support import block


@pytest.fixture
def world(feed_mesh, channel_to) -> World:
    return World(channel_to)


async def _rows(timelines: Timelines, user_id: str) -> list[int]:
    return await timelines.store.timeline(user_id, before=None, limit=100)


async def test_a_post_reaches_every_follower_and_no_one_else(world: World) -> None:
    author, *followers, stranger = await world.users(5)  # 3 followers: two batches of 2
    await world.follow(followers, author)
    post = await world.post(author)
    for follower in followers:
        ids = await world.wait_in_feed(follower, post.post_id)
        assert ids.count(post.post_id) == 1
    assert post.post_id not in await world.home_ids(stranger)


async def test_a_replayed_post_event_writes_nothing_twice(world: World,
                                                          timelines: Timelines) -> None:
    author, follower = await world.users(2)
    await world.follow([follower], author)
    await world.home(follower)  # active: cached as well
    post = await world.post(author)
    await world.wait_in_feed(follower, post.post_id)
    # The same event again under a new message id (as after a lost acknowledgement).
    replay = post_events.PostCreatedEvent(event_id=str(uuid.uuid4()), post_id=post.post_id,
                                          author_user_id=author.user_id,
                                          create_time=post.create_time)
    bus = await EventBus.connect(load(NatsSettings), "feed-test")
    try:
        await bus.publish("post", "created", replay, msg_id=f"replay:{post.post_id}")
        await eventually(lambda: bus.js.consumer_info(bus.stream_name("post"),
                                                      "feed_post_created"),
                         lambda info: info.num_pending == 0 and info.num_ack_pending == 0,
                         what="the replay handled")
    finally:
        await bus.close()
    second = await world.post(author)
    ids = await world.wait_in_feed(follower, second.post_id)
    assert ids == [second.post_id, post.post_id]
    assert await _rows(timelines, follower.user_id) == [second.post_id, post.post_id]


async def test_celebrities_are_merged_at_read_time_and_crossing_back_fans_out(
        world: World, timelines: Timelines) -> None:
    celeb, *fans = await world.users(6)  # 5 followers > threshold 4
    await world.follow(fans, celeb)
    merged = await world.post(celeb, "for my many fans")
    for fan in fans:
        await world.wait_in_feed(fan, merged.post_id)
        assert merged.post_id not in await _rows(timelines, fan.user_id)  # not fanned out
    # Back to 4 followers: the next post is fanned out, the merged one stays visible.
    await world.graph.Unfollow(gpb.UnfollowRequest(user_id=celeb.user_id), metadata=fans[0].md)
    fanned = await world.post(celeb, "now for fewer")
    ids = await world.wait_in_feed(fans[1], fanned.post_id)
    assert ids[:2] == [fanned.post_id, merged.post_id]
    await eventually(lambda: _rows(timelines, fans[1].user_id),
                     lambda rows: fanned.post_id in rows, what="a fanned-out row")
    await eventually(lambda: world.home_ids(fans[0]), lambda ids: merged.post_id not in ids,
                     what="no merge for a former follower")


async def test_an_inactive_users_first_read_rebuilds_the_cached_timeline(
        world: World, timelines: Timelines) -> None:
    author, follower = await world.users(2)
    await world.follow([follower], author)
    post = await world.post(author)
    await eventually(lambda: _rows(timelines, follower.user_id), lambda r: post.post_id in r,
                     what="the timeline row")
    cached, _, _ = await timelines.cache.read(follower.user_id, None, 10)
    assert not cached  # never read: no fan-out into Redis
    assert await world.home_ids(follower) == [post.post_id]
    cached, ids, _ = await timelines.cache.read(follower.user_id, None, 10)
    assert cached and ids == [post.post_id]


async def test_follow_backfills_and_unfollow_and_block_remove(world: World) -> None:
    author, follower = await world.users(2)
    posts = await world.posts_of(author, 2)
    await world.home(follower)
    await world.follow([follower], author)
    await eventually(lambda: world.home_ids(follower),
                     lambda ids: ids == [posts[1].post_id, posts[0].post_id],
                     what="backfilled posts")
    await world.graph.Unfollow(gpb.UnfollowRequest(user_id=author.user_id),
                               metadata=follower.md)
    await eventually(lambda: world.home_ids(follower), lambda ids: ids == [],
                     what="posts purged on unfollow")
    await world.follow([follower], author)
    await world.wait_in_feed(follower, posts[1].post_id)
    await block(world.graph, author, follower.user_id)
    await eventually(lambda: world.home_ids(follower), lambda ids: ids == [],
                     what="posts purged on block")


async def test_a_deleted_post_disappears_from_every_timeline(world: World,
                                                             timelines: Timelines) -> None:
    author, *followers = await world.users(3)
    await world.follow(followers, author)
    await world.home(followers[0])
    post = await world.post(author)
    for follower in followers:
        await world.wait_in_feed(follower, post.post_id)
    await world.posts.DeletePost(ppb.DeletePostRequest(post_id=post.post_id), metadata=author.md)
    for follower in followers:
        # Gone from the feed within the read model's bound (its tombstone follows the
        # post.deleted event: README, Read models), then from the stored timeline too.
        await eventually(lambda f=follower: world.home_ids(f),
                         lambda ids: post.post_id not in ids,
                         timeout=APPLIED_WITHIN, what="the post gone from the feed")
        await eventually(lambda f=follower: _rows(timelines, f.user_id), lambda r: r == [],
                         what="the timeline row removed")


async def test_the_worker_fans_a_post_event_out_in_batches_to_the_followers_rows(
        world: World, timelines: Timelines) -> None:
    """The worker's own contract: a PostCreatedEvent on the post stream (here published
    directly) becomes timeline rows of every follower, however many batches it takes."""
    from services.runtime.ids import Snowflake

    author, *followers = await world.users(4)
    await world.follow(followers, author)
    post_id = Snowflake(1001).next_id()
    event = post_events.PostCreatedEvent(event_id=str(uuid.uuid4()), post_id=post_id,
                                         author_user_id=author.user_id)
    bus = await EventBus.connect(load(NatsSettings), "feed-test")
    try:
        await bus.publish("post", "created", event, msg_id=f"direct:{post_id}")
    finally:
        await bus.close()
    for follower in followers:
        await eventually(lambda f=follower: _rows(timelines, f.user_id),
                         lambda rows: rows == [post_id], what="the follower's row")
    assert await _rows(timelines, author.user_id) == []
    assert await timelines.store.author_posts(author.user_id, 10) == [post_id]
