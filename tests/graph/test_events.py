"""Graph events on NATS JetStream: one durable message per change, with trace context."""

from __future__ import annotations

import os

from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.graph.v1 import events_pb2 as ev
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from tests.graph_support import Users, approve, block, follow, make_private
from tests.helpers import stream_messages


async def messages(mesh, event: str, want: int = 1, match=lambda m: True) -> list:
    """Messages of `event` on the graph stream that `match` (polling until `want` arrive)."""
    return await stream_messages(mesh.env, "graph", event, match, want=want)


async def test_follow_publishes_one_event_with_trace_context(graph, channel_to, mesh,
                                                             collector) -> None:
    alice, bob = await Users.register(channel_to("auth"), 2)
    trace_id = os.urandom(16).hex()
    traced = (*alice.md, ("traceparent", f"00-{trace_id}-{os.urandom(8).hex()}-01"))
    for _ in range(3):  # retries publish again; JetStream keeps one message
        await graph.Follow(gpb.FollowRequest(user_id=bob.user_id), metadata=traced)

    def ours(m) -> bool:
        e = ev.FollowedEvent.FromString(m.data)
        return (e.follower_user_id, e.followee_user_id) == (alice.user_id, bob.user_id)

    found = await messages(mesh, "followed", match=ours)
    assert len(found) == 1
    event = ev.FollowedEvent.FromString(found[0].data)
    assert event.event_id and event.event_time.seconds > 0
    assert found[0].headers["Nats-Msg-Id"].startswith("followed:")
    assert found[0].headers["traceparent"].split("-")[1] == trace_id
    spans = await collector.wait_for(trace_id, "photomesh-graph")
    assert any(s.name.endswith("graph.followed publish") for s in spans)


async def test_every_change_is_published(graph, channel_to, mesh) -> None:
    owner, fan, other = await Users.register(channel_to("auth"), 3)
    await make_private(graph, owner)
    await follow(graph, fan, owner.user_id)
    await approve(graph, owner, fan.user_id)
    await follow(graph, owner, fan.user_id)
    await graph.Unfollow(gpb.UnfollowRequest(user_id=fan.user_id), metadata=owner.md)
    await follow(graph, other, owner.user_id)
    await block(graph, owner, fan.user_id)
    await graph.Unblock(gpb.UnblockRequest(user_id=fan.user_id), metadata=owner.md)
    await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(bio="hi"), update_mask=FieldMask(paths=["bio"])), metadata=owner.md)

    def involving(kind):
        return lambda m: owner.user_id in str(kind.FromString(m.data))

    requested = await messages(mesh, "follow_requested", match=involving(
        ev.FollowRequestedEvent))
    assert {(ev.FollowRequestedEvent.FromString(m.data).requester_user_id,
             ev.FollowRequestedEvent.FromString(m.data).target_user_id)
            for m in requested} >= {(fan.user_id, owner.user_id), (other.user_id,
                                                                   owner.user_id)}
    approved = await messages(mesh, "follow_approved", match=involving(ev.FollowApprovedEvent))
    assert [ev.FollowApprovedEvent.FromString(m.data).requester_user_id for m in approved] == [
        fan.user_id]
    followed = await messages(mesh, "followed", want=2, match=involving(ev.FollowedEvent))
    assert len(followed) == 2
    unfollowed = await messages(mesh, "unfollowed", match=involving(ev.UnfollowedEvent))
    assert [ev.UnfollowedEvent.FromString(m.data).follower_user_id for m in unfollowed] == [
        owner.user_id]
    [blocked] = await messages(mesh, "blocked", match=involving(ev.BlockedEvent))
    event = ev.BlockedEvent.FromString(blocked.data)
    assert (event.blocker_user_id, event.blocked_user_id) == (owner.user_id, fan.user_id)
    assert event.removed_follower and not event.removed_following
    assert len(await messages(mesh, "unblocked", match=involving(ev.UnblockedEvent))) == 1
    updates = await messages(mesh, "profile_updated", want=2,
                             match=involving(ev.ProfileUpdatedEvent))
    paths = [list(ev.ProfileUpdatedEvent.FromString(m.data).changed_paths) for m in updates]
    assert paths == [["private"], ["bio"]]
