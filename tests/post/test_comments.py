"""Comments: one level of nesting, idempotent creates, who may delete, comment likes."""

from __future__ import annotations

import uuid

import grpc
import pytest
from photomesh.post.v1 import events_pb2 as ev
from photomesh.post.v1 import post_service_pb2 as pb

from tests.helpers import error_info, field_violations
from tests.post.conftest import published


def _comment(post_id: int, text: str, parent: int = 0, request_id: str | None = None
             ) -> pb.CreateCommentRequest:
    return pb.CreateCommentRequest(request_id=request_id or str(uuid.uuid4()), post_id=post_id,
                                   parent_comment_id=parent, text=text)


async def test_replies_nest_one_level_and_are_counted(post, new_user, create_post,
                                                      mesh) -> None:
    author, alice, bob = await new_user(), await new_user(), await new_user()
    pid = (await create_post(author)).post_id
    top = (await post.CreateComment(_comment(pid, f"hi @{bob.username}"),
                                    metadata=alice.md)).comment
    assert top.parent_comment_id == 0 and [m.user_id for m in top.mentions] == [bob.user_id]
    reply = (await post.CreateComment(_comment(pid, "reply", top.comment_id),
                                      metadata=bob.md)).comment
    deeper = (await post.CreateComment(_comment(pid, "reply to reply", reply.comment_id),
                                       metadata=author.md)).comment
    assert reply.parent_comment_id == top.comment_id
    assert deeper.parent_comment_id == top.comment_id  # attached to the top-level comment
    second = (await post.CreateComment(_comment(pid, "second"), metadata=bob.md)).comment

    tops = await post.ListComments(pb.ListCommentsRequest(post_id=pid), metadata=author.md)
    assert [c.comment_id for c in tops.comments] == [top.comment_id, second.comment_id]
    assert [c.reply_count for c in tops.comments] == [2, 0]
    replies = await post.ListComments(pb.ListCommentsRequest(
        post_id=pid, parent_comment_id=top.comment_id, page_size=1), metadata=author.md)
    assert [c.comment_id for c in replies.comments] == [reply.comment_id]
    more = await post.ListComments(pb.ListCommentsRequest(
        post_id=pid, parent_comment_id=top.comment_id, page_size=1,
        page_token=replies.next_page_token), metadata=author.md)
    assert [c.comment_id for c in more.comments] == [deeper.comment_id]
    got = await post.GetPost(pb.GetPostRequest(post_id=pid), metadata=bob.md)
    assert got.post.comment_count == 4

    events = await published(mesh.env, "comment_added", ev.CommentAddedEvent,
                             lambda e: e.post_id == pid, wait_for=4)
    by_id = {e.comment_id: e for e in events}
    assert list(by_id[top.comment_id].mentioned_user_ids) == [bob.user_id]
    assert by_id[deeper.comment_id].parent_comment_id == top.comment_id
    assert by_id[deeper.comment_id].parent_comment_author_user_id == bob.user_id
    assert all(e.post_author_user_id == author.user_id for e in events)

    # Deleting the top-level comment takes its replies with it.
    await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid, comment_id=top.comment_id),
                             metadata=alice.md)
    got = await post.GetPost(pb.GetPostRequest(post_id=pid), metadata=bob.md)
    assert got.post.comment_count == 1
    tops = await post.ListComments(pb.ListCommentsRequest(post_id=pid), metadata=author.md)
    assert [c.comment_id for c in tops.comments] == [second.comment_id]


async def test_create_comment_is_idempotent(post, new_user, create_post, mesh) -> None:
    author, fan = await new_user(), await new_user()
    pid = (await create_post(author)).post_id
    request = _comment(pid, "once")
    ids = {(await post.CreateComment(request, metadata=fan.md)).comment.comment_id
           for _ in range(3)}
    assert len(ids) == 1
    assert (await post.GetPost(pb.GetPostRequest(post_id=pid),
                               metadata=fan.md)).post.comment_count == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await post.CreateComment(_comment(pid, "other", request_id=request.request_id),
                                 metadata=fan.md)
    assert error_info(err.value).reason == "REQUEST_ID_REUSED"
    events = await published(mesh.env, "comment_added", ev.CommentAddedEvent,
                             lambda e: e.post_id == pid, wait_for=1)
    assert len(events) == 1


async def test_who_may_delete_a_comment(post, new_user, create_post) -> None:
    author, commenter, stranger = await new_user(), await new_user(), await new_user()
    pid = (await create_post(author)).post_id
    first = (await post.CreateComment(_comment(pid, "a"), metadata=commenter.md)).comment
    second = (await post.CreateComment(_comment(pid, "b"), metadata=commenter.md)).comment
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid,
                                                         comment_id=first.comment_id),
                                 metadata=stranger.md)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(err.value).reason == "NOT_AUTHOR"
    for user in (commenter, commenter):  # idempotent for the author of the comment
        await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid,
                                                         comment_id=first.comment_id),
                                 metadata=user.md)
    await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid, comment_id=second.comment_id),
                             metadata=author.md)  # the post's author may too
    got = await post.GetPost(pb.GetPostRequest(post_id=pid), metadata=author.md)
    assert got.post.comment_count == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid, comment_id=12345),
                                 metadata=author.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_comment_likes_and_bad_comments(post, new_user, create_post) -> None:
    author, fan = await new_user(), await new_user()
    pid = (await create_post(author)).post_id
    cid = (await post.CreateComment(_comment(pid, "like me"), metadata=author.md)
           ).comment.comment_id
    for _ in range(3):
        liked = await post.LikeComment(pb.LikeCommentRequest(post_id=pid, comment_id=cid),
                                       metadata=fan.md)
    assert liked.like_count == 1
    listed = await post.ListComments(pb.ListCommentsRequest(post_id=pid), metadata=fan.md)
    assert listed.comments[0].liked_by_caller and listed.comments[0].like_count == 1
    for _ in range(2):
        unliked = await post.UnlikeComment(pb.UnlikeCommentRequest(post_id=pid, comment_id=cid),
                                           metadata=fan.md)
    assert unliked.like_count == 0

    for request, field in ((_comment(pid, ""), "text"), (_comment(pid, "x" * 2201), "text"),
                           (_comment(0, "hi"), "post_id"), (_comment(pid, "hi", 999), None)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await post.CreateComment(request, metadata=fan.md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        if field:
            assert field in field_violations(err.value)
        else:
            assert error_info(err.value).reason == "PARENT_COMMENT_INVALID"
