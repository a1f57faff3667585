"""Follows racing blocks, unfollows and approvals end in one consistent state (relation,
lists and counts agree); cold follow counts are rebuilt once however many read them, a
value set aside is served meanwhile, and a rebuild never caches a count a concurrent follow
made stale."""

from __future__ import annotations

import asyncio
import uuid

import grpc
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from services.graph.cache import FOLLOWERS, FollowCounts
from services.graph.relations import Relations
from services.graph.store import GraphStore
from services.runtime.cache import KeySpace, connect_redis
from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, RedisSettings, load
from tests.graph.test_follows import counts, follower_ids
from tests.graph_support import approve, block, follow, make_private

FOLLOWING = gpb.RELATIONSHIP_STATUS_FOLLOWING


async def _relationship(graph, viewer, target_id: str) -> int:
    reply = await graph.GetProfile(gpb.GetProfileRequest(user_id=target_id), metadata=viewer.md)
    return reply.profile.relationship


async def _settled(call) -> None:  # type: ignore[no-untyped-def]
    """A call that may lose its race: any clean outcome, never UNKNOWN or INTERNAL."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        assert exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                              grpc.StatusCode.UNAVAILABLE), exc


async def test_a_follow_racing_a_block_never_survives_it(graph, users) -> None:
    people = await users(12)
    pairs = list(zip(people[::2], people[1::2], strict=True))
    # Each follower follows (twice, at once) while the followee blocks them.
    await asyncio.gather(*(
        _settled(step) for fan, target in pairs for step in (
            follow(graph, fan, target.user_id), follow(graph, fan, target.user_id),
            block(graph, target, fan.user_id))))
    for fan, target in pairs:
        assert await _relationship(graph, target, fan.user_id) == gpb.RELATIONSHIP_STATUS_BLOCKED
        assert await counts(graph, target, target.user_id) == (0, 0)
        assert await counts(graph, fan, fan.user_id) == (0, 0)
        assert await follower_ids(graph, target, target.user_id) == []


async def test_follows_and_unfollows_of_one_pair_at_once_end_consistent(graph, users) -> None:
    fans = await users(5)
    target = fans.pop()
    unfollow = gpb.UnfollowRequest(user_id=target.user_id)
    for fan in fans:
        await asyncio.gather(*(_settled(step) for step in (
            follow(graph, fan, target.user_id), graph.Unfollow(unfollow, metadata=fan.md),
            follow(graph, fan, target.user_id), graph.Unfollow(unfollow, metadata=fan.md),
            follow(graph, fan, target.user_id))))
    following = [f for f in fans
                 if await _relationship(graph, f, target.user_id) == FOLLOWING]
    assert sorted(await follower_ids(graph, target, target.user_id)) == sorted(
        f.user_id for f in following)
    assert (await counts(graph, target, target.user_id))[0] == len(following)
    for fan in fans:
        assert (await counts(graph, fan, fan.user_id))[1] == (1 if fan in following else 0)


async def test_a_follow_decided_before_a_concurrent_follow_ended_cannot_commit(
        graph, users, mesh) -> None:
    """The race behind a follower list missing a follow the relation has: a Follow reads
    the pair (no follow), another Follow and an Unfollow then run to the end, and the first
    Follow's commit must fail (its time, taken from the ends it read, could equal the ended
    follow's, whose list rows are removed with a later write timestamp)."""
    fan, target = await users(2)
    cql = await CqlStore.connect(load(CqlSettings))
    try:
        await cql.use_keyspace()
        store = GraphStore(cql)
        stale = await store.relation(fan.user_id, target.user_id)
        await follow(graph, fan, target.user_id)
        await graph.Unfollow(gpb.UnfollowRequest(user_id=target.user_id), metadata=fan.md)
        # Only the store is used up to a refused commit.
        relations = Relations(store, None, None, None)  # type: ignore[arg-type]
        assert not await relations._start_following(stale)
        assert (await store.relation(fan.user_id, target.user_id)).following_since is None
    finally:
        await cql.close()
    assert await _relationship(graph, fan, target.user_id) == gpb.RELATIONSHIP_STATUS_NONE


async def test_requests_racing_approval_and_going_public_count_once(graph, users) -> None:
    owner, *fans = await users(5)
    await make_private(graph, owner)
    await asyncio.gather(*(follow(graph, f, owner.user_id) for f in fans))
    # Approvals, repeated, while the owner goes public (which approves everyone) and the
    # fans follow again.
    await asyncio.gather(
        *(_settled(approve(graph, owner, f.user_id)) for f in fans for _ in range(2)),
        make_private(graph, owner, private=False),
        *(_settled(follow(graph, f, owner.user_id)) for f in fans))
    assert await counts(graph, owner, owner.user_id) == (4, 0)
    assert sorted(await follower_ids(graph, owner, owner.user_id)) == sorted(
        f.user_id for f in fans)


async def test_a_cold_count_is_rebuilt_once_for_all_readers(mesh) -> None:
    settings = load(RedisSettings)
    redis = connect_redis(settings)
    keys = KeySpace(settings, f"graph-{uuid.uuid4().hex[:8]}")
    rebuilt = 0

    async def slow_count(user_id: str) -> int:
        nonlocal rebuilt
        rebuilt += 1
        await asyncio.sleep(0.2)
        return 42

    try:
        processes = [FollowCounts(redis, keys, 600) for _ in range(2)]
        user = str(uuid.uuid4())
        reads = [p.get_many(FOLLOWERS, [user], slow_count) for p in processes for _ in range(20)]
        assert await asyncio.gather(*reads) == [{user: 42}] * 40
        assert rebuilt == 1
    finally:
        await redis.aclose()


async def test_a_set_aside_count_is_served_while_one_rebuild_runs(mesh) -> None:
    settings = load(RedisSettings)
    redis = connect_redis(settings)
    keys = KeySpace(settings, f"graph-{uuid.uuid4().hex[:8]}")
    truth, counted = 10, 0

    async def slow_count(user_id: str) -> int:
        nonlocal counted
        counted += 1
        await asyncio.sleep(0.3)
        return truth

    try:
        first, second = [FollowCounts(redis, keys, 600) for _ in range(2)]
        user = str(uuid.uuid4())
        assert await first.get_many(FOLLOWERS, [user], slow_count) == {user: 10}
        # A change whose outcome is unknown: the value is set aside, not dropped.
        truth = 11
        await first.forget([(FOLLOWERS, user)], ending=False)
        served = await asyncio.gather(*(p.get_many(FOLLOWERS, [user], slow_count)
                                        for p in (first, second) for _ in range(10)))
        assert served == [{user: 10}] * 20, "the old value (a rebuild would say 11)"
        for _ in range(100):  # the one rebuild stores the count
            if await redis.get(first.key(FOLLOWERS, user)) is not None:
                break
            await asyncio.sleep(0.02)
        assert await second.get_many(FOLLOWERS, [user], slow_count) == {user: 11}
        assert counted == 2, "one rebuild for twenty reads"
    finally:
        await redis.aclose()


async def test_a_follow_landing_during_a_rebuild_is_not_lost(mesh) -> None:
    """A rebuild that counted before a concurrent follow's rows were written must not cache
    its count: it counts again (the old protocol kept the stale count for its TTL)."""
    settings = load(RedisSettings)
    redis = connect_redis(settings)
    keys = KeySpace(settings, f"graph-{uuid.uuid4().hex[:8]}")
    counts = FollowCounts(redis, keys, 600)
    user = str(uuid.uuid4())
    rows = 5

    async def count_racing_a_follow(user_id: str) -> int:
        nonlocal rows
        seen = rows
        if seen == 5:  # a follow lands while this count is on its way
            await counts.begin([(FOLLOWERS, user)])
            rows += 1
            await counts.add([(FOLLOWERS, user, +1)])
        return seen

    try:
        assert await counts.get_many(FOLLOWERS, [user], count_racing_a_follow) == {user: 6}
        assert await redis.get(counts.key(FOLLOWERS, user)) == b"6"
    finally:
        await redis.aclose()
