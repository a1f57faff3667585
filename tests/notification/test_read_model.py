"""ListNotifications from the notification service's own read model: a warm list asks no
peer and no CQL store, profile changes and blocks reach listed notifications, and pages
run past the cached entries into the CQL store.

Staleness bound tested here: a display name change or a block shows in listed
notifications within PROPAGATION_SECONDS (the graph publishes after its commit, the
service's view consumer drops the stale entry; milliseconds when the machine is idle).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import aio
from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc
from photomesh.post.v1 import events_pb2 as post_events

from infra.sandbox import Mesh
from services.notification.listing import Listing
from services.notification.model import Activity, Kind, Subject
from services.runtime.pagination import PageTokens
from tests.graph_support import User, Users, block, graph_stub
from tests.helpers import error_info
from tests.private_service import private_service
from tests.tcp_proxy import TcpProxy, proxied

PROPAGATION_SECONDS = 10.0


@pytest.fixture
def notifications(channel_to) -> pb_grpc.NotificationServiceStub:
    return pb_grpc.NotificationServiceStub(channel_to("notification"))


async def like(bus, post_id: int, author: User, liker: User) -> None:
    event_id = str(uuid.uuid4())
    await bus.publish("post", "liked", post_events.PostLikedEvent(
        event_id=event_id, post_id=post_id, post_author_user_id=author.user_id,
        liker_user_id=liker.user_id), msg_id=event_id)


async def followed(bus, followee: User, follower: User) -> None:
    event_id = str(uuid.uuid4())
    await bus.publish("graph", "followed", graph_events.FollowedEvent(
        event_id=event_id, follower_user_id=follower.user_id,
        followee_user_id=followee.user_id), msg_id=event_id)


async def listed(stub, user: User, **kwargs) -> pb.ListNotificationsResponse:
    return await stub.ListNotifications(pb.ListNotificationsRequest(**kwargs),
                                        metadata=user.md, timeout=10)


async def wait_for(stub, user: User, check, timeout: float = 20.0
                   ) -> list[pb.Notification]:
    deadline = time.monotonic() + timeout
    while True:
        found = list((await listed(stub, user)).notifications)
        if check(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"inbox never matched; it holds {found}")
        await asyncio.sleep(0.05)


async def first_pushed(stub, user: User, act  # type: ignore[no-untyped-def]
                       ) -> tuple[pb.StreamNotificationsResponse, int]:
    """The first message of a StreamNotifications call, and the last post id acted on:
    `act(post_id)` (post ids 101, 102 …) is repeated until a message arrives (the stream
    registers a moment after the call)."""
    call = stub.StreamNotifications(pb.StreamNotificationsRequest(), metadata=user.md)

    async def first() -> pb.StreamNotificationsResponse:
        async for message in call:
            return message
        raise AssertionError("stream ended")

    receive = asyncio.ensure_future(first())
    try:
        post_id = 100
        deadline = time.monotonic() + 20
        while not receive.done() and time.monotonic() < deadline:
            post_id += 1
            await act(post_id)
            await asyncio.wait({receive}, timeout=1.0)
        return receive.result(), post_id
    finally:
        call.cancel()


# --- a private notification service whose peers go through proxies --------------------


@dataclass
class Isolated:
    """A notification service process of its own, on the run's keyspace, Redis and
    streams, whose graph calls and CQL connections go through proxies the test cuts."""

    target: str
    graph: TcpProxy
    cql: TcpProxy

    def cut(self) -> None:
        self.graph.cut()
        self.cql.cut()


@pytest.fixture
def isolated(mesh: Mesh, tmp_path: Path) -> Iterator[Isolated]:
    cql = f"{mesh.settings.host}:{mesh.env['PHOTOMESH_CQL_PORT']}"
    with proxied(mesh.target("graph")) as graph, proxied(cql) as store, \
            private_service(mesh, "notification", tmp_path, {
                "PHOTOMESH_GRAPH_TARGET": graph.address, "PHOTOMESH_CQL_PORT": str(store.port),
                "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1001"}) as target:
        yield Isolated(target, graph, store)
        graph.restore()  # so that the service can drain and close its connections
        store.restore()


async def test_a_warm_list_asks_no_peer_and_no_cql_store(isolated: Isolated, bus, channel_to,
                                                         notifications) -> None:
    me, bob, carol, stranger, erin = await Users.register(channel_to("auth"), 5)
    await like(bus, 1, me, bob)
    await like(bus, 1, me, carol)
    await like(bus, 2, me, bob)
    await followed(bus, me, carol)
    await wait_for(notifications, me,
                   lambda n: sorted(x.actor_count for x in n) == [1, 1, 2])
    async with aio.insecure_channel(isolated.target) as channel:
        stub = pb_grpc.NotificationServiceStub(channel)
        first = await listed(stub, me)  # warms what the service keeps (if not warm yet)
        unread = (await stub.GetUnreadCount(pb.GetUnreadCountRequest(),
                                            metadata=me.md)).unread_count
        assert isolated.cql.connections  # its CQL session goes through the proxy
        assert {a.username for n in first.notifications for a in n.actors} == {
            bob.username, carol.username}

        isolated.cut()
        again = await listed(stub, me)
        assert again == first
        assert (await stub.GetUnreadCount(pb.GetUnreadCountRequest(), metadata=me.md)
                ).unread_count == unread == 3
        page = await listed(stub, me, page_size=2)
        assert list(page.notifications) == list(first.notifications[:2])
        rest = await listed(stub, me, page_size=2, page_token=page.next_page_token)
        assert list(rest.notifications) == list(first.notifications[2:])
        # The cut is real: an inbox not in Redis needs the CQL store, and fails.
        with pytest.raises(aio.AioRpcError) as err:
            await listed(stub, stranger)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(err.value).reason == "BACKEND_UNAVAILABLE"
        # New activities (the worker is not behind the proxies) are pushed on the stream
        # and listed, from Redis.
        pushed, last = await first_pushed(stub, me,
                                          lambda post_id: like(bus, post_id, me, carol))
        assert pushed.notification.actors[0].username == carol.username
        found = await wait_for(stub, me, lambda n: len(n) == 3 + last - 100 and
                               n[0].post_id == last)
        assert found[0].actors[0].username == carol.username
        unread = (await stub.GetUnreadCount(pb.GetUnreadCountRequest(),
                                            metadata=me.md)).unread_count
        assert pushed.unread_count <= unread == len(found)
        # An actor the service has not seen needs the graph (a summary, a relation): the
        # graph is cut too, so that fails.
        await like(bus, 4, me, erin)
        deadline = time.monotonic() + 20
        while True:
            try:
                await listed(stub, me)
            except aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
                break
            assert time.monotonic() < deadline, "the list never needed the graph"
            await asyncio.sleep(0.05)


async def test_a_new_display_name_shows_in_listed_notifications(bus, channel_to,
                                                                notifications) -> None:
    me, bob = await Users.register(channel_to("auth"), 2)
    await like(bus, 1, me, bob)
    (n,) = await wait_for(notifications, me, lambda n: len(n) == 1)
    assert n.actors[0].display_name == "Test User"
    await graph_stub(channel_to("graph")).UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(display_name="Bob Renamed"),
        update_mask=FieldMask(paths=["display_name"])), metadata=bob.md)
    changed = time.monotonic()
    await wait_for(notifications, me,
                   lambda n: n and n[0].actors[0].display_name == "Bob Renamed",
                   timeout=PROPAGATION_SECONDS)
    print(f"display name listed {time.monotonic() - changed:.3f}s after the change")


async def test_a_block_hides_the_actor_in_listed_notifications(bus, channel_to,
                                                               notifications) -> None:
    me, bob, carol, dave = await Users.register(channel_to("auth"), 4)
    await like(bus, 1, me, bob)
    await like(bus, 1, me, carol)
    await like(bus, 2, me, bob)
    await followed(bus, me, dave)
    await wait_for(notifications, me, lambda n: len(n) == 3 and
                   {x.actor_count for x in n} == {1, 2})
    graph = graph_stub(channel_to("graph"))
    await block(graph, me, bob.user_id)  # made after the notifications were written
    await block(graph, dave, me.user_id)  # the other direction hides as well

    def bob_and_dave_gone(found: list[pb.Notification]) -> bool:
        return [(x.post_id, [a.user_id for a in x.actors], x.actor_count) for x in found] \
            == [(1, [carol.user_id], 1)]

    await wait_for(notifications, me, bob_and_dave_gone, timeout=PROPAGATION_SECONDS)


async def test_pages_run_past_the_cached_entries_into_the_store(make_inbox, view,
                                                                channel_to) -> None:
    me, *fans = await Users.register(channel_to("auth"), 3)
    inbox = make_inbox(cap=3)  # 3 cached, the rest only in the CQL store
    for post_id in range(1, 8):
        await inbox.add(Activity(me.user_id, fans[post_id % 2].user_id, Kind.POST_LIKED,
                                 f"liked/{post_id}", f"{uuid.uuid4()}/liked/{post_id}",
                                 Subject(post_id=post_id)))
    listing = Listing(inbox, view, PageTokens("test page tokens"))

    async def walk(unread_only: bool = False, between=None) -> list[int]:  # type: ignore[no-untyped-def]
        seen, token = [], ""
        while True:
            reply = pb.ListNotificationsResponse.FromString(
                await listing.page(me.user_id, unread_only, 2, token))
            seen += [n.post_id for n in reply.notifications]
            assert all(n.actors[0].username in {f.username for f in fans}
                       for n in reply.notifications)
            token = reply.next_page_token
            if not token:
                return seen
            if between is not None:
                await between()

    assert await walk() == [7, 6, 5, 4, 3, 2, 1]
    entries = await inbox.store.page(me.user_id, None, 0, 10)
    await inbox.mark_read(me.user_id, up_to_notification_id=entries[4].notification.notification_id)

    async def read_everything() -> None:
        await inbox.mark_read(me.user_id)

    # An unread-only listing keeps the watermark of its first page.
    assert await walk(unread_only=True, between=read_everything) == [7, 6, 5, 4]
    assert await walk(unread_only=True) == []
    read_flags = pb.ListNotificationsResponse.FromString(
        await listing.page(me.user_id, False, 10, ""))
    assert all(n.read for n in read_flags.notifications)
