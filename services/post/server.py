"""gRPC transport of PostService: proto in, domain call, proto out."""

from __future__ import annotations

from grpc import aio
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from services.post.comments import Comments, CommentView
from services.post.likes import Likes
from services.post.model import Mention
from services.post.posts import Posts, PostView
from services.runtime.auth import current_principal
from services.runtime.clock import timestamp_from_datetime


def _mentions(mentions: tuple[Mention, ...]) -> list[pb.Mention]:
    return [pb.Mention(user_id=m.user_id, username=m.username) for m in mentions]


def _post(view: PostView) -> pb.Post:
    r = view.record
    return pb.Post(post_id=r.post_id, author=view.author, caption=r.caption,
                   hashtags=list(r.hashtags), mentions=_mentions(r.mentions),
                   media=list(r.media), like_count=view.like_count,
                   comment_count=view.comment_count, liked_by_caller=view.liked,
                   create_time=timestamp_from_datetime(r.create_time))


def _comment(view: CommentView) -> pb.Comment:
    r = view.record
    return pb.Comment(comment_id=r.comment_id, post_id=r.post_id, parent_comment_id=r.parent_id,
                      author=view.author, text=r.text, mentions=_mentions(r.mentions),
                      like_count=view.like_count, reply_count=view.reply_count,
                      liked_by_caller=view.liked,
                      create_time=timestamp_from_datetime(r.create_time))


def _me() -> str:
    """The signed-in user making the call (the acting user is read here, in the transport,
    and handed to the domain)."""
    return current_principal().user_id


class PostServicer(pb_grpc.PostServiceServicer):
    def __init__(self, posts: Posts, likes: Likes, comments: Comments) -> None:
        self._posts = posts
        self._likes = likes
        self._comments = comments

    async def CreatePost(self, request: pb.CreatePostRequest, context: aio.ServicerContext
                         ) -> pb.CreatePostResponse:
        view = await self._posts.create(_me(), request.request_id, request.caption,
                                        list(request.media_ids))
        return pb.CreatePostResponse(post=_post(view))

    async def GetPost(self, request: pb.GetPostRequest, context: aio.ServicerContext
                      ) -> pb.GetPostResponse:
        return pb.GetPostResponse(post=_post(await self._posts.get(_me(), request.post_id)))

    async def BatchGetPosts(self, request: pb.BatchGetPostsRequest,
                            context: aio.ServicerContext) -> pb.BatchGetPostsResponse:
        views, missing = await self._posts.batch_get(_me(), list(request.post_ids))
        return pb.BatchGetPostsResponse(posts=[_post(v) for v in views],
                                        missing_post_ids=missing)

    async def ListUserPosts(self, request: pb.ListUserPostsRequest,
                            context: aio.ServicerContext) -> pb.ListUserPostsResponse:
        views, token, total = await self._posts.list_user_posts(
            _me(), request.user_id, request.page_size, request.page_token)
        return pb.ListUserPostsResponse(posts=[_post(v) for v in views], next_page_token=token,
                                        total_size=total)

    async def DeletePost(self, request: pb.DeletePostRequest, context: aio.ServicerContext
                         ) -> pb.DeletePostResponse:
        await self._posts.delete(_me(), request.post_id)
        return pb.DeletePostResponse()

    async def LikePost(self, request: pb.LikePostRequest, context: aio.ServicerContext
                       ) -> pb.LikePostResponse:
        return pb.LikePostResponse(like_count=await self._likes.like_post(_me(), request.post_id))

    async def UnlikePost(self, request: pb.UnlikePostRequest, context: aio.ServicerContext
                         ) -> pb.UnlikePostResponse:
        return pb.UnlikePostResponse(
            like_count=await self._likes.unlike_post(_me(), request.post_id))

    async def ListPostLikers(self, request: pb.ListPostLikersRequest,
                             context: aio.ServicerContext) -> pb.ListPostLikersResponse:
        likers, token = await self._likes.list_likers(_me(), request.post_id, request.page_size,
                                                      request.page_token)
        return pb.ListPostLikersResponse(
            likers=[pb.Liker(user=v.user, like_time=timestamp_from_datetime(v.like_time))
                    for v in likers],
            next_page_token=token)

    async def BatchGetLikeStatus(self, request: pb.BatchGetLikeStatusRequest,
                                 context: aio.ServicerContext) -> pb.BatchGetLikeStatusResponse:
        statuses = await self._likes.like_status(_me(), list(request.post_ids))
        return pb.BatchGetLikeStatusResponse(
            statuses=[pb.LikeStatus(post_id=i, liked=liked) for i, liked in statuses])

    async def CreateComment(self, request: pb.CreateCommentRequest,
                            context: aio.ServicerContext) -> pb.CreateCommentResponse:
        view = await self._comments.create(_me(), request.request_id, request.post_id,
                                           request.parent_comment_id, request.text)
        return pb.CreateCommentResponse(comment=_comment(view))

    async def ListComments(self, request: pb.ListCommentsRequest,
                           context: aio.ServicerContext) -> pb.ListCommentsResponse:
        views, token = await self._comments.list(_me(), request.post_id, request.parent_comment_id,
                                                 request.page_size, request.page_token)
        return pb.ListCommentsResponse(comments=[_comment(v) for v in views],
                                       next_page_token=token)

    async def DeleteComment(self, request: pb.DeleteCommentRequest,
                            context: aio.ServicerContext) -> pb.DeleteCommentResponse:
        await self._comments.delete(_me(), request.post_id, request.comment_id)
        return pb.DeleteCommentResponse()

    async def LikeComment(self, request: pb.LikeCommentRequest, context: aio.ServicerContext
                          ) -> pb.LikeCommentResponse:
        return pb.LikeCommentResponse(
            like_count=await self._likes.like_comment(_me(), request.post_id, request.comment_id))

    async def UnlikeComment(self, request: pb.UnlikeCommentRequest,
                            context: aio.ServicerContext) -> pb.UnlikeCommentResponse:
        return pb.UnlikeCommentResponse(
            like_count=await self._likes.unlike_comment(_me(), request.post_id, request.comment_id))
