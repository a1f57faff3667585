"""The inbox: threads by last message with a preview, unread counts per thread and in
total, read receipts, paging; message requests (a first message from someone the
recipient does not follow), accepting and declining them."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio
from photomesh.message.v1 import message_service_pb2 as pb

from tests.feed.support import eventually
from tests.graph_support import follow, make_private
from tests.helpers import error_info
from tests.message.conftest import direct, rid, send, threads


async def _unread(dm, user) -> pb.GetUnreadCountResponse:  # type: ignore[no-untyped-def]
    return await dm.GetUnreadCount(pb.GetUnreadCountRequest(), metadata=user.md)


async def test_inbox_orders_by_last_message_with_unread_counts_and_receipts(
        dm, graph, make_users) -> None:
    me, x, y, z = await make_users(4)
    for other in (x, y, z):
        await follow(graph, me, other.user_id)  # their messages land in my inbox
    tx, ty, tz = [await direct(dm, other, me) for other in (x, y, z)]
    await send(dm, x, tx.thread_id, "from x")
    await send(dm, y, ty.thread_id, "from y 1")
    last_y = await send(dm, y, ty.thread_id, "from y 2")
    await send(dm, z, tz.thread_id, "from z")
    await send(dm, x, tx.thread_id, "from x again")
    # The worker moves an entry, then marks its unread message: wait for both.
    listed = await eventually(lambda: threads(dm, me), lambda ts: len(ts) == 3 and
                              ts[0].last_message.text == "from x again" and
                              sum(t.unread_count for t in ts) == 5)
    assert [t.thread_id for t in listed] == [tx.thread_id, tz.thread_id, ty.thread_id]
    assert [t.unread_count for t in listed] == [2, 1, 2]
    assert all(t.folder == pb.FOLDER_INBOX for t in listed)
    # The cached counts follow the CQL entries (written just after them).
    await eventually(lambda: _unread(dm, me), lambda u: (
        u.unread_message_count, u.unread_thread_count) == (5, 3))

    # Paging: one at a time, same order, no repeats.
    seen, token = [], ""
    while True:
        page = await dm.ListThreads(pb.ListThreadsRequest(page_size=1, page_token=token),
                                    metadata=me.md)
        seen += [t.thread_id for t in page.threads]
        token = page.next_page_token
        if not token:
            break
    assert seen == [tx.thread_id, tz.thread_id, ty.thread_id]

    # Reading y's thread: counts drop, and y sees the receipt.
    read = await dm.MarkThreadRead(pb.MarkThreadReadRequest(thread_id=ty.thread_id),
                                   metadata=me.md)
    assert read.read_up_to_message_id == last_y.message_id
    assert read.unread_message_count == 3
    seen_by = (await dm.GetThread(pb.GetThreadRequest(thread_id=ty.thread_id),
                                  metadata=y.md)).thread
    marks = {m.user.user_id: m.read_up_to_message_id for m in seen_by.members}
    assert marks[me.user_id] == last_y.message_id
    assert (await _unread(dm, me)).unread_thread_count == 2

    # The sender's own inbox shows the thread, read.
    theirs = await eventually(lambda: threads(dm, y), lambda ts: len(ts) == 1)
    assert theirs[0].unread_count == 0


async def test_a_stranger_s_first_message_is_a_request_until_accepted(dm, make_users
                                                                       ) -> None:
    me, stranger, other = await make_users(3)
    thread = await direct(dm, stranger, me)
    await send(dm, stranger, thread.thread_id, "hello?")
    requests = await eventually(lambda: threads(dm, me, pb.FOLDER_REQUESTS),
                                lambda ts: len(ts) == 1)
    assert requests[0].thread_id == thread.thread_id
    assert requests[0].last_message.text == "hello?"
    assert await threads(dm, me) == []
    await eventually(lambda: _unread(dm, me), lambda u: (
        u.request_count, u.unread_message_count) == (1, 0))
    accepted = (await dm.AcceptMessageRequest(pb.AcceptMessageRequestRequest(
        thread_id=thread.thread_id), metadata=me.md)).thread
    assert accepted.folder == pb.FOLDER_INBOX
    assert [t.thread_id for t in await threads(dm, me)] == [thread.thread_id]
    assert await threads(dm, me, pb.FOLDER_REQUESTS) == []
    with pytest.raises(aio.AioRpcError) as err:
        await dm.DeclineMessageRequest(pb.DeclineMessageRequestRequest(
            thread_id=thread.thread_id), metadata=me.md)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(err.value).reason == "NOT_A_REQUEST"

    # Declining removes the request.
    second = await direct(dm, other, me)
    await send(dm, other, second.thread_id, "hi")
    await eventually(lambda: threads(dm, me, pb.FOLDER_REQUESTS), lambda ts: len(ts) == 1)
    await dm.DeclineMessageRequest(pb.DeclineMessageRequestRequest(
        thread_id=second.thread_id), metadata=me.md)
    assert await threads(dm, me, pb.FOLDER_REQUESTS) == []
    assert (await _unread(dm, me)).request_count == 0


async def test_a_private_account_gets_a_stranger_s_message_as_a_request(
        dm, graph, make_users) -> None:
    private, stranger = await make_users(2)
    await make_private(graph, private)
    thread = await direct(dm, stranger, private)
    await send(dm, stranger, thread.thread_id, "may I?")
    requests = await eventually(lambda: threads(dm, private, pb.FOLDER_REQUESTS),
                                lambda ts: len(ts) == 1)
    assert requests[0].thread_id == thread.thread_id
    assert await threads(dm, private) == []
    reply = await send(dm, private, thread.thread_id, "yes")  # replying accepts it
    assert reply.sender_user_id == private.user_id
    await eventually(lambda: threads(dm, private), lambda ts: len(ts) == 1)


async def test_a_group_shows_in_its_members_inboxes_and_leaves_a_removed_one(
        dm, graph, make_users) -> None:
    owner, fan, stranger = await make_users(3)
    await follow(graph, fan, owner.user_id)
    group = (await dm.CreateGroupThread(pb.CreateGroupThreadRequest(
        request_id=rid(), name="g", member_user_ids=[fan.user_id, stranger.user_id]),
        metadata=owner.md)).thread
    await send(dm, owner, group.thread_id, "welcome")
    fans = await eventually(lambda: threads(dm, fan), lambda ts: len(ts) == 1 and
                            ts[0].last_message.text == "welcome" and
                            ts[0].unread_count > 0)
    assert fans[0].name == "g" and fans[0].unread_count == 1
    await eventually(lambda: threads(dm, stranger, pb.FOLDER_REQUESTS),
                     lambda ts: len(ts) == 1)
    await dm.RemoveThreadMember(pb.RemoveThreadMemberRequest(
        thread_id=group.thread_id, user_id=fan.user_id), metadata=owner.md)
    await eventually(lambda: threads(dm, fan), lambda ts: ts == [])
    await eventually(lambda: _unread(dm, fan), lambda u: u.unread_message_count == 0)


async def test_inbox_bad_input(dm, make_users) -> None:
    (me,) = await make_users(1)
    with pytest.raises(aio.AioRpcError) as err:
        await dm.ListThreads(pb.ListThreadsRequest(page_size=-1), metadata=me.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(aio.AioRpcError) as err:
        await dm.ListThreads(pb.ListThreadsRequest(folder=7), metadata=me.md)  # type: ignore[arg-type]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(aio.AioRpcError) as err:
        await dm.ListThreads(pb.ListThreadsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(aio.AioRpcError) as err:
        await dm.MarkThreadRead(pb.MarkThreadReadRequest(thread_id="x"), metadata=me.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
