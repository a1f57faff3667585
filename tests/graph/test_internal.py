"""Internal RPCs other services call: relationship checks, follower ids, summaries."""

from __future__ import annotations

import uuid

import grpc
import pytest
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from tests.graph_support import (
    Users,
    approve,
    block,
    follow,
    make_private,
    service_metadata,
)
from tests.helpers import error_info

S = gpb.RelationshipStatus


async def test_batch_check_following_answers_every_status(graph, channel_to, mesh) -> None:
    me, followed, requested, blocked, blocker, fan, private_followed = \
        await Users.register(channel_to("auth"), 7)
    await follow(graph, me, followed.user_id)
    await make_private(graph, requested)
    await follow(graph, me, requested.user_id)
    await block(graph, me, blocked.user_id)
    await block(graph, blocker, me.user_id)
    await follow(graph, fan, me.user_id)
    await make_private(graph, private_followed)
    await follow(graph, me, private_followed.user_id)
    await approve(graph, private_followed, me.user_id)
    unknown = str(uuid.uuid4())
    targets = [followed, requested, blocked, blocker, fan, private_followed, me]
    request = gpb.BatchCheckFollowingRequest(
        user_id=me.user_id, target_user_ids=[t.user_id for t in targets] + [unknown])
    for md in (me.md, service_metadata(mesh, "post")):
        reply = await graph.BatchCheckFollowing(request, metadata=md)
        got = {c.target_user_id: (c.status, c.followed_by, c.blocked, c.target_private)
               for c in reply.checks}
        assert [c.target_user_id for c in reply.checks] == list(request.target_user_ids)
        assert got == {
            followed.user_id: (S.RELATIONSHIP_STATUS_FOLLOWING, False, False, False),
            requested.user_id: (S.RELATIONSHIP_STATUS_REQUESTED, False, False, True),
            blocked.user_id: (S.RELATIONSHIP_STATUS_BLOCKED, False, True, False),
            blocker.user_id: (S.RELATIONSHIP_STATUS_BLOCKED_BY, False, True, False),
            fan.user_id: (S.RELATIONSHIP_STATUS_NONE, True, False, False),
            private_followed.user_id: (S.RELATIONSHIP_STATUS_FOLLOWING, False, False, True),
            me.user_id: (S.RELATIONSHIP_STATUS_SELF, False, False, False),
            unknown: (S.RELATIONSHIP_STATUS_NONE, False, False, False),
        }


async def test_internal_rpcs_refuse_users_asking_about_others(graph, channel_to) -> None:
    alice, bob = await Users.register(channel_to("auth"), 2)
    calls = [
        graph.BatchCheckFollowing(gpb.BatchCheckFollowingRequest(
            user_id=bob.user_id, target_user_ids=[alice.user_id]), metadata=alice.md),
        graph.ListFollowerIds(gpb.ListFollowerIdsRequest(user_id=bob.user_id),
                              metadata=alice.md),
        graph.ListFollowingIds(gpb.ListFollowingIdsRequest(user_id=bob.user_id),
                               metadata=alice.md),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(err.value).reason == "NOT_RESOURCE_OWNER"


async def test_batch_check_limits(graph, channel_to, mesh) -> None:
    [alice] = await Users.register(channel_to("auth"), 1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.BatchCheckFollowing(gpb.BatchCheckFollowingRequest(
            user_id=alice.user_id, target_user_ids=[str(uuid.uuid4()) for _ in range(1001)]),
            metadata=service_metadata(mesh, "feed"))
    assert error_info(err.value).reason == "BATCH_TOO_LARGE"


async def test_follower_ids_page_for_fan_out(graph, channel_to, mesh) -> None:
    star, *fans = await Users.register(channel_to("auth"), 6)
    for fan in fans:
        await follow(graph, fan, star.user_id)
    md = service_metadata(mesh, "feed")
    ids, token, totals = [], "", []
    while True:
        reply = await graph.ListFollowerIds(gpb.ListFollowerIdsRequest(
            user_id=star.user_id, page_size=2, page_token=token), metadata=md)
        ids += list(reply.user_ids)
        totals.append(reply.total_count)
        token = reply.next_page_token
        if not token:
            break
    assert sorted(ids) == sorted(f.user_id for f in fans)
    assert totals[0] == 5
    following = await graph.ListFollowingIds(gpb.ListFollowingIdsRequest(
        user_id=fans[0].user_id), metadata=fans[0].md)
    assert list(following.user_ids) == [star.user_id] and following.total_count == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.ListFollowerIds(gpb.ListFollowerIdsRequest(user_id=str(uuid.uuid4())),
                                    metadata=md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
