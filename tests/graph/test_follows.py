"""Follows, follow requests, blocks, lists and counts against the real backends."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis.asyncio as aioredis
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, load
from tests.graph_support import (
    approve,
    block,
    follow,
    make_private,
)
from tests.helpers import error_info, field_violations

FOLLOWING = gpb.RELATIONSHIP_STATUS_FOLLOWING
REQUESTED = gpb.RELATIONSHIP_STATUS_REQUESTED
NONE = gpb.RELATIONSHIP_STATUS_NONE


async def counts(graph, viewer, user_id: str) -> tuple[int, int]:
    reply = await graph.GetFollowCounts(gpb.GetFollowCountsRequest(user_id=user_id),
                                        metadata=viewer.md)
    return reply.follower_count, reply.following_count


async def follower_ids(graph, viewer, user_id: str, page_size: int = 0) -> list[str]:
    ids, token = [], ""
    while True:
        reply = await graph.ListFollowers(gpb.ListFollowersRequest(
            user_id=user_id, page_size=page_size, page_token=token), metadata=viewer.md)
        ids += [e.user.user_id for e in reply.followers]
        token = reply.next_page_token
        if not token:
            return ids


async def rpc_error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def test_follow_and_unfollow_are_idempotent_and_counted_once(graph, users) -> None:
    alice, bob = await users(2)
    for _ in range(3):  # retries
        assert await follow(graph, alice, bob.user_id) == FOLLOWING
    assert await counts(graph, alice, bob.user_id) == (1, 0)
    assert await counts(graph, bob, alice.user_id) == (0, 1)
    seen = await graph.GetProfile(gpb.GetProfileRequest(user_id=bob.user_id), metadata=alice.md)
    assert seen.profile.relationship == FOLLOWING and not seen.profile.follows_caller
    back = await graph.GetProfile(gpb.GetProfileRequest(user_id=alice.user_id),
                                  metadata=bob.md)
    assert back.profile.follows_caller and back.profile.relationship == NONE
    assert await follower_ids(graph, alice, bob.user_id) == [alice.user_id]
    following = await graph.ListFollowing(gpb.ListFollowingRequest(user_id=alice.user_id),
                                          metadata=bob.md)
    assert [e.user.user_id for e in following.followings] == [bob.user_id]
    assert following.followings[0].follow_time.seconds > 0
    for _ in range(2):
        reply = await graph.Unfollow(gpb.UnfollowRequest(user_id=bob.user_id), metadata=alice.md)
        assert reply.relationship == NONE
    assert await counts(graph, alice, bob.user_id) == (0, 0)
    assert await follower_ids(graph, alice, bob.user_id) == []


async def test_concurrent_follows_count_exactly(graph, users) -> None:
    target, *fans = await users(6)
    # Every fan follows three times at once: one edge each, counted once.
    await asyncio.gather(*(follow(graph, fan, target.user_id) for fan in fans for _ in range(3)))
    assert await counts(graph, target, target.user_id) == (5, 0)
    assert sorted(await follower_ids(graph, target, target.user_id)) == sorted(
        f.user_id for f in fans)


async def test_counts_are_rebuilt_from_the_store_when_the_cache_is_cold(graph, users,
                                                                        mesh) -> None:
    target, *fans = await users(4)
    await follow(graph, fans[0], target.user_id)
    assert await counts(graph, target, target.user_id) == (1, 0)  # warm now
    for fan in fans[1:]:
        await follow(graph, fan, target.user_id)
    await graph.Unfollow(gpb.UnfollowRequest(user_id=target.user_id), metadata=fans[0].md)
    client = aioredis.Redis.from_url(mesh.env["PHOTOMESH_REDIS_URL"])
    prefix = mesh.env["PHOTOMESH_REDIS_KEY_PREFIX"]
    key = f"{prefix}graph:count:{{followers:{target.user_id}}}"
    try:
        assert int(await client.get(key)) == 2
        await client.delete(key, f"{prefix}graph:count:{{following:{fans[1].user_id}}}")
        assert await client.get(key) is None
        assert await counts(graph, target, target.user_id) == (2, 0)
        assert await counts(graph, target, fans[1].user_id) == (0, 1)
        assert int(await client.get(key)) == 2  # rebuilt
        await follow(graph, fans[0], target.user_id)  # and kept current afterwards
        assert await counts(graph, target, target.user_id) == (3, 0)
    finally:
        await client.aclose()


async def test_repeated_follows_unfollows_and_blocks_change_nothing_cached(graph, users,
                                                                           mesh) -> None:
    """No-op calls leave the cached counts alone: a row is added to the follower list
    behind the service's back, so a recount (or a dropped key) would show."""
    target, fan, other, foe = await users(4)
    await follow(graph, fan, target.user_id)
    await block(graph, target, foe.user_id)
    assert await counts(graph, target, target.user_id) == (1, 0)  # warm now
    cql = await CqlStore.connect(load(CqlSettings))
    try:
        await cql.use_keyspace()
        await cql.execute("INSERT INTO graph_followers (user_id, followed_at, follower_id) "
                          "VALUES (?, toTimestamp(now()), ?)",
                          (uuid.UUID(target.user_id), uuid.uuid4()))
    finally:
        await cql.close()
    for _ in range(2):
        await follow(graph, fan, target.user_id)
        await graph.Unfollow(gpb.UnfollowRequest(user_id=target.user_id), metadata=other.md)
        await block(graph, target, foe.user_id)
        await graph.Unblock(gpb.UnblockRequest(user_id=target.user_id), metadata=other.md)
    assert await counts(graph, target, target.user_id) == (1, 0), "nothing was recounted"
    client = aioredis.Redis.from_url(mesh.env["PHOTOMESH_REDIS_URL"])
    prefix = mesh.env["PHOTOMESH_REDIS_KEY_PREFIX"]
    try:
        assert await client.get(f"{prefix}graph:count:{{followers:{target.user_id}}}") == b"1"
    finally:
        await client.aclose()


async def test_followers_page_newest_first(graph, users) -> None:
    target, *fans = await users(6)
    for fan in fans:  # one after the other: distinct follow times
        await follow(graph, fan, target.user_id)
    newest_first = [f.user_id for f in reversed(fans)]
    assert await follower_ids(graph, target, target.user_id, page_size=2) == newest_first
    first = await graph.ListFollowers(gpb.ListFollowersRequest(
        user_id=target.user_id, page_size=2), metadata=target.md)
    assert first.next_page_token
    err = await rpc_error(graph.ListFollowing(gpb.ListFollowingRequest(
        user_id=target.user_id, page_token=first.next_page_token), metadata=target.md))
    assert error_info(err).reason == "PAGE_TOKEN_INVALID"
    err = await rpc_error(graph.ListFollowers(gpb.ListFollowersRequest(
        user_id=target.user_id, page_token=first.next_page_token), metadata=fans[0].md))
    assert error_info(err).reason == "PAGE_TOKEN_INVALID"  # not transferable
    err = await rpc_error(graph.ListFollowers(gpb.ListFollowersRequest(
        user_id=target.user_id, page_size=-1), metadata=target.md))
    assert error_info(err).reason == "PAGE_SIZE_INVALID"
    assert "page_size" in field_violations(err)


async def test_follow_errors(graph, users) -> None:
    alice, = await users(1)
    err = await rpc_error(follow(graph, alice, alice.user_id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err).reason == "SELF_RELATIONSHIP"
    err = await rpc_error(follow(graph, alice, str(uuid.uuid4())))
    assert (err.code(), error_info(err).reason) == (grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
    err = await rpc_error(follow(graph, alice, "12345"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "user_id" in field_violations(err)
    err = await rpc_error(graph.Follow(gpb.FollowRequest(user_id=alice.user_id)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_private_account_requests_approve_reject_withdraw(graph, users) -> None:
    owner, ann, ben, cat = await users(4)
    profile = await make_private(graph, owner)
    assert profile.private
    for fan in (ann, ben, cat):
        assert await follow(graph, fan, owner.user_id) == REQUESTED
    assert await follow(graph, ann, owner.user_id) == REQUESTED  # idempotent
    err = await rpc_error(graph.ListFollowers(gpb.ListFollowersRequest(user_id=owner.user_id),
                                              metadata=ann.md))
    assert (err.code(), error_info(err).reason) == (grpc.StatusCode.PERMISSION_DENIED,
                                                   "ACCOUNT_PRIVATE")
    pages, token, seen = 0, "", []
    while True:
        reply = await graph.ListFollowRequests(gpb.ListFollowRequestsRequest(
            page_size=2, page_token=token), metadata=owner.md)
        seen += [r.requester.user_id for r in reply.follow_requests]
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert seen == [cat.user_id, ben.user_id, ann.user_id] and pages == 2
    await approve(graph, owner, ann.user_id)
    await approve(graph, owner, ann.user_id)  # idempotent
    assert await counts(graph, owner, owner.user_id) == (1, 0)
    assert await follower_ids(graph, ann, owner.user_id) == [ann.user_id]
    await graph.RejectFollowRequest(gpb.RejectFollowRequestRequest(
        requester_user_id=ben.user_id), metadata=owner.md)
    err = await rpc_error(graph.RejectFollowRequest(gpb.RejectFollowRequestRequest(
        requester_user_id=ben.user_id), metadata=owner.md))
    assert (err.code(), error_info(err).reason) == (grpc.StatusCode.NOT_FOUND,
                                                   "FOLLOW_REQUEST_NOT_FOUND")
    err = await rpc_error(approve(graph, owner, ben.user_id))
    assert error_info(err).reason == "FOLLOW_REQUEST_NOT_FOUND"
    reply = await graph.Unfollow(gpb.UnfollowRequest(user_id=owner.user_id), metadata=cat.md)
    assert reply.relationship == NONE  # request withdrawn
    pending = await graph.ListFollowRequests(gpb.ListFollowRequestsRequest(), metadata=owner.md)
    assert list(pending.follow_requests) == []
    assert await counts(graph, owner, owner.user_id) == (1, 0)


async def test_going_public_approves_pending_requests(graph, users) -> None:
    owner, ann, ben = await users(3)
    await make_private(graph, owner)
    await follow(graph, ann, owner.user_id)
    await follow(graph, ben, owner.user_id)
    profile = await make_private(graph, owner, private=False)
    assert not profile.private and profile.follower_count == 2
    assert sorted(await follower_ids(graph, ann, owner.user_id)) == sorted(
        [ann.user_id, ben.user_id])
    pending = await graph.ListFollowRequests(gpb.ListFollowRequestsRequest(), metadata=owner.md)
    assert list(pending.follow_requests) == []


async def test_block_removes_follows_both_ways_and_hides_each_from_the_other(graph, users
                                                                             ) -> None:
    alice, bob, carol = await users(3)
    await follow(graph, alice, bob.user_id)
    await follow(graph, bob, alice.user_id)
    await follow(graph, carol, bob.user_id)
    for _ in range(2):  # idempotent
        await block(graph, alice, bob.user_id)
    assert await counts(graph, alice, alice.user_id) == (0, 0)
    assert await counts(graph, carol, bob.user_id) == (1, 0)
    # Bob cannot see Alice at all; Alice sees Bob as BLOCKED.
    err = await rpc_error(graph.GetProfile(gpb.GetProfileRequest(user_id=alice.user_id),
                                           metadata=bob.md))
    assert (err.code(), error_info(err).reason) == (grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
    err = await rpc_error(follow(graph, bob, alice.user_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rpc_error(graph.GetFollowCounts(gpb.GetFollowCountsRequest(
        user_id=alice.user_id), metadata=bob.md))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    seen = await graph.GetProfile(gpb.GetProfileRequest(user_id=bob.user_id), metadata=alice.md)
    assert seen.profile.relationship == gpb.RELATIONSHIP_STATUS_BLOCKED
    err = await rpc_error(follow(graph, alice, bob.user_id))
    assert (err.code(), error_info(err).reason) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                   "USER_BLOCKED")
    # Neither appears in third-party lists seen by the other.
    await follow(graph, alice, carol.user_id)
    await follow(graph, bob, carol.user_id)
    assert await follower_ids(graph, alice, carol.user_id) == [alice.user_id]
    assert await follower_ids(graph, bob, carol.user_id) == [bob.user_id]
    assert len(await follower_ids(graph, carol, carol.user_id)) == 2
    blocked = await graph.ListBlockedUsers(gpb.ListBlockedUsersRequest(), metadata=alice.md)
    assert [b.user.user_id for b in blocked.blocked_users] == [bob.user_id]
    err = await rpc_error(block(graph, alice, alice.user_id))
    assert error_info(err).reason == "SELF_RELATIONSHIP"
    for _ in range(2):
        await graph.Unblock(gpb.UnblockRequest(user_id=bob.user_id), metadata=alice.md)
    blocked = await graph.ListBlockedUsers(gpb.ListBlockedUsersRequest(), metadata=alice.md)
    assert list(blocked.blocked_users) == []
    # Follows removed by the block are not restored; following again works.
    assert await counts(graph, bob, alice.user_id) == (0, 1)
    assert await follow(graph, bob, alice.user_id) == FOLLOWING


async def test_block_withdraws_pending_requests(graph, users) -> None:
    owner, fan = await users(2)
    await make_private(graph, owner)
    assert await follow(graph, fan, owner.user_id) == REQUESTED
    await block(graph, owner, fan.user_id)
    pending = await graph.ListFollowRequests(gpb.ListFollowRequestsRequest(), metadata=owner.md)
    assert list(pending.follow_requests) == []
    await graph.Unblock(gpb.UnblockRequest(user_id=fan.user_id), metadata=owner.md)
    assert await follow(graph, fan, owner.user_id) == REQUESTED
