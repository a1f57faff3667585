"""Messages: sending (text, the sender's READY media, a shared post), idempotency on
request_id, newest-first paging, unsending, deleting for oneself, and who may send and
read (members only; blocks close a one-to-one thread both ways)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc import aio
from photomesh.message.v1 import message_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as ppb_grpc

from tests.graph_support import approve, block, follow, make_private
from tests.helpers import error_info, field_violations
from tests.media_support import ready_media
from tests.message.conftest import direct, rid, send


async def _messages(dm, user, thread_id: str, **kw) -> pb.ListMessagesResponse:  # type: ignore[no-untyped-def]
    return await dm.ListMessages(pb.ListMessagesRequest(thread_id=thread_id, **kw),
                                 metadata=user.md)


async def test_send_is_idempotent_and_lists_newest_first_in_pages(dm, make_users) -> None:
    a, b = await make_users(2)
    thread = await direct(dm, a, b)
    request = pb.SendMessageRequest(thread_id=thread.thread_id, request_id=rid(), text="one")
    first, again = await asyncio.gather(dm.SendMessage(request, metadata=a.md),
                                        dm.SendMessage(request, metadata=a.md))
    assert first.message.message_id == again.message.message_id
    sent = [first.message] + [await send(dm, who, thread.thread_id, f"m{i}")
                              for i, who in enumerate((b, a, b, a))]
    seen: list[pb.Message] = []
    token = ""
    while True:
        page = await _messages(dm, b, thread.thread_id, page_size=2, page_token=token)
        assert len(page.messages) <= 2
        seen += page.messages
        token = page.next_page_token
        if not token:
            break
    assert [m.message_id for m in seen] == [m.message_id for m in reversed(sent)]
    assert seen[-1].text == "one" and seen[-1].sender_user_id == a.user_id
    with pytest.raises(aio.AioRpcError) as err:  # a token is the reader's own
        await _messages(dm, a, thread.thread_id, page_size=2, page_token=(
            await _messages(dm, b, thread.thread_id, page_size=2)).next_page_token)
    assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"


async def test_send_bad_input(dm, make_users) -> None:
    a, b = await make_users(2)
    thread = await direct(dm, a, b)
    cases = [
        (dict(request_id="short", text="x"), "request_id"),
        (dict(request_id=rid(), text="x" * 1001), "text"),
        (dict(request_id=rid(), text="  "), "text"),
        (dict(request_id=rid(), media_id="nope"), "media_id"),
        (dict(request_id=rid(), media_id="0b6f6c4e-3c1e-4d0e-9a57-2d4b5c0e9f11",
              shared_post_id=5), "media_id"),
    ]
    for fields, field in cases:
        with pytest.raises(aio.AioRpcError) as err:
            await dm.SendMessage(pb.SendMessageRequest(thread_id=thread.thread_id, **fields),
                                 metadata=a.md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(err.value), (field, field_violations(err.value))
    with pytest.raises(aio.AioRpcError) as err:
        await _messages(dm, a, thread.thread_id, page_size=-1)
    assert "page_size" in field_violations(err.value)
    with pytest.raises(aio.AioRpcError) as err:
        await _messages(dm, a, thread.thread_id, page_token="garbage")
    assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"


async def test_only_members_send_and_read_and_blocks_close_the_thread(dm, graph,
                                                                      make_users) -> None:
    a, b, c = await make_users(3)
    thread = await direct(dm, a, b)
    await send(dm, a, thread.thread_id)
    for call in (send(dm, c, thread.thread_id), _messages(dm, c, thread.thread_id)):
        with pytest.raises(aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as err:
        await dm.SendMessage(pb.SendMessageRequest(thread_id=thread.thread_id,
                                                   request_id=rid(), text="x"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await block(graph, a, b.user_id)
    for who in (a, b):
        for call in (send(dm, who, thread.thread_id), _messages(dm, who, thread.thread_id)):
            with pytest.raises(aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_info(err.value).reason == "BLOCKED"


async def test_unsend_and_delete_for_me(dm, make_users) -> None:
    a, b = await make_users(2)
    thread = await direct(dm, a, b)
    keep, gone, mine = [await send(dm, a, thread.thread_id, t) for t in ("keep", "gone", "b")]
    with pytest.raises(aio.AioRpcError) as err:
        await dm.UnsendMessage(pb.UnsendMessageRequest(
            thread_id=thread.thread_id, message_id=gone.message_id), metadata=b.md)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(err.value).reason == "NOT_THE_SENDER"
    await dm.UnsendMessage(pb.UnsendMessageRequest(
        thread_id=thread.thread_id, message_id=gone.message_id), metadata=a.md)
    await dm.DeleteMessageForMe(pb.DeleteMessageForMeRequest(
        thread_id=thread.thread_id, message_id=mine.message_id), metadata=b.md)
    for_a = [m.message_id for m in (await _messages(dm, a, thread.thread_id)).messages]
    for_b = [m.message_id for m in (await _messages(dm, b, thread.thread_id)).messages]
    assert for_a == [mine.message_id, keep.message_id]
    assert for_b == [keep.message_id]
    with pytest.raises(aio.AioRpcError) as err:
        await dm.UnsendMessage(pb.UnsendMessageRequest(
            thread_id=thread.thread_id, message_id=12345), metadata=a.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_media_must_be_the_senders_own_and_ready(dm, mesh, make_users) -> None:
    a, b = await make_users(2)
    thread = await direct(dm, a, b)
    media = await ready_media(mesh.target("media"), a.token)
    sent = await send(dm, a, thread.thread_id, "", media_id=media.media_id)
    assert sent.media.media_id == media.media_id and sent.media.variants
    listed = (await _messages(dm, b, thread.thread_id)).messages[0]
    assert listed.media.media_id == media.media_id
    # Another's item is not theirs to send (the media service does not even show it).
    with pytest.raises(aio.AioRpcError) as err:
        await send(dm, b, thread.thread_id, "", media_id=media.media_id)
    assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)
    assert error_info(err.value).reason in ("MEDIA_NOT_FOUND", "MEDIA_NOT_OWNED")


async def test_a_shared_post_shows_only_to_those_who_may_see_it(dm, graph, mesh, channel_to,
                                                                make_users) -> None:
    author, sharer, stranger = await make_users(3)
    await make_private(graph, author)
    await follow(graph, sharer, author.user_id)
    await approve(graph, author, sharer.user_id)
    media = await ready_media(mesh.target("media"), author.token)
    posts = ppb_grpc.PostServiceStub(channel_to("post"))
    post = (await posts.CreatePost(ppb.CreatePostRequest(
        request_id=rid(), caption="private", media_ids=[media.media_id]),
        metadata=author.md)).post
    thread = await direct(dm, sharer, stranger)
    sent = await send(dm, sharer, thread.thread_id, "look", shared_post_id=post.post_id)
    assert sent.shared_post.post.post_id == post.post_id
    mine = (await _messages(dm, sharer, thread.thread_id)).messages[0]
    theirs = (await _messages(dm, stranger, thread.thread_id)).messages[0]
    assert mine.shared_post.post.caption == "private"
    assert theirs.shared_post.post_id == post.post_id
    assert not theirs.shared_post.HasField("post")
    # The stranger cannot share what they cannot see.
    with pytest.raises(aio.AioRpcError) as err:
        await send(dm, stranger, thread.thread_id, "", shared_post_id=post.post_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(err.value).reason == "POST_NOT_FOUND"
