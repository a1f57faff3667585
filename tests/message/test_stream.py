"""StreamMessages: new messages, receipts and thread changes reach each member live, as
that member may see them."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc import aio
from photomesh.message.v1 import message_service_pb2 as pb

from tests.graph_support import follow
from tests.message.conftest import direct, rid, send


async def _next(stream, want):  # type: ignore[no-untyped-def]
    async def first():  # type: ignore[no-untyped-def]
        async for event in stream:
            if want(event):
                return event
        raise AssertionError("the stream ended")
    return await asyncio.wait_for(first(), timeout=20)




async def test_members_get_messages_receipts_and_thread_changes_live(dm, graph,
                                                                     make_users) -> None:
    a, b = await make_users(2)
    await follow(graph, b, a.user_id)
    thread = await direct(dm, a, b)
    stream = dm.StreamMessages(pb.StreamMessagesRequest(), metadata=b.md)
    try:
        # Until the stream is registered, pushes may pass it by: send until one arrives.
        async def sender() -> None:
            while True:
                await send(dm, a, thread.thread_id, "live")
                await asyncio.sleep(0.3)
        sending = asyncio.ensure_future(sender())
        got = await _next(stream, lambda e: e.HasField("message"))
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        assert got.message.text == "live" and got.message.sender_user_id == a.user_id
        assert got.unread_message_count >= 1
        await dm.MarkThreadRead(pb.MarkThreadReadRequest(thread_id=thread.thread_id),
                                metadata=a.md)
        receipt = await _next(stream, lambda e: e.HasField("receipt"))
        assert receipt.receipt.user_id == a.user_id
        group = (await dm.CreateGroupThread(pb.CreateGroupThreadRequest(
            request_id=rid(), name="live", member_user_ids=[b.user_id]),
            metadata=a.md)).thread
        changed = await _next(stream, lambda e: e.HasField("thread"))
        assert changed.thread.thread_id == group.thread_id
    finally:
        stream.cancel()


async def test_the_stream_needs_a_token(dm) -> None:
    stream = dm.StreamMessages(pb.StreamMessagesRequest())
    with pytest.raises(aio.AioRpcError) as err:
        async for _ in stream:
            pass
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
