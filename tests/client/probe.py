"""A real gRPC server (in the test process) whose PostService and FeedService answer as a
test scripts them and record what each call carried: the client's behaviour on the wire
(token, deadline, retries, error details, paging) without the mesh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc import aio
from photomesh.feed.v1 import feed_service_pb2 as feed_pb
from photomesh.feed.v1 import feed_service_pb2_grpc as feed_grpc
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc


@dataclass
class Seen:
    """One call as the server saw it."""

    method: str
    authorization: str | None
    time_remaining: float | None
    request: Any


@dataclass
class Script:
    """What the server does: `failures[method]` statuses to answer first, in order (each a
    (code, google.rpc.Status or None)); then the normal answer."""

    failures: dict[str, list[tuple[grpc.StatusCode, status_pb2.Status | None]]] = field(
        default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    posts: int = 5  # ListUserPosts lists posts 1..posts
    repeat_token: bool = False  # ListUserPosts answers the same token forever

    def calls(self, method: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method]


def rich_status(code: grpc.StatusCode, message: str, reason: str, domain: str,
                metadata: dict[str, str] | None = None,
                violations: list[tuple[str, str]] = (),  # type: ignore[assignment]
                retry_seconds: float | None = None) -> status_pb2.Status:
    details = []

    def pack(message: Any) -> any_pb2.Any:
        packed = any_pb2.Any()
        packed.Pack(message)
        return packed

    details.append(pack(error_details_pb2.ErrorInfo(reason=reason, domain=domain,
                                                    metadata=metadata or {})))
    if violations:
        details.append(pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
            for f, d in violations])))
    if retry_seconds is not None:
        info = error_details_pb2.RetryInfo()
        info.retry_delay.FromMilliseconds(int(retry_seconds * 1000))
        details.append(pack(info))
    return status_pb2.Status(code=code.value[0], message=message, details=details)


async def _record(script: Script, method: str, request: Any,
                  context: aio.ServicerContext) -> None:
    metadata = dict(context.invocation_metadata() or ())
    script.seen.append(Seen(method, metadata.get("authorization"), context.time_remaining(),
                            request))
    pending = script.failures.get(method)
    if pending:
        code, status = pending.pop(0)
        trailing = (("grpc-status-details-bin", status.SerializeToString()),) if status else ()
        await context.abort(code, status.message if status else "scripted failure",
                            trailing_metadata=trailing)


class ProbePosts(post_grpc.PostServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script

    async def GetPost(self, request: post_pb.GetPostRequest, context: aio.ServicerContext
                      ) -> post_pb.GetPostResponse:
        await _record(self.script, "GetPost", request, context)
        return post_pb.GetPostResponse(post=post_pb.Post(post_id=request.post_id))

    async def CreatePost(self, request: post_pb.CreatePostRequest,
                         context: aio.ServicerContext) -> post_pb.CreatePostResponse:
        await _record(self.script, "CreatePost", request, context)
        return post_pb.CreatePostResponse(post=post_pb.Post(post_id=1, caption=request.caption))

    async def ListUserPosts(self, request: post_pb.ListUserPostsRequest,
                            context: aio.ServicerContext) -> post_pb.ListUserPostsResponse:
        await _record(self.script, "ListUserPosts", request, context)
        start = int(request.page_token or "0")
        size = request.page_size or 2
        ids = list(range(start + 1, min(start + size, self.script.posts) + 1))
        after = start + len(ids)
        token = "0" if self.script.repeat_token else (
            str(after) if after < self.script.posts else "")
        return post_pb.ListUserPostsResponse(posts=[post_pb.Post(post_id=i) for i in ids],
                                             next_page_token=token,
                                             total_size=self.script.posts)


class ProbeFeed(feed_grpc.FeedServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script

    async def StreamHomeFeed(self, request: feed_pb.StreamHomeFeedRequest,
                             context: aio.ServicerContext
                             ) -> AsyncIterator[feed_pb.StreamHomeFeedResponse]:
        await _record(self.script, "StreamHomeFeed", request, context)
        yield feed_pb.StreamHomeFeedResponse(item=feed_pb.FeedItem(
            post=post_pb.Post(post_id=7)))
        await context.abort(grpc.StatusCode.UNAVAILABLE, "stream ends", trailing_metadata=((
            "grpc-status-details-bin", rich_status(
                grpc.StatusCode.UNAVAILABLE, "stream ends", "BACKEND_UNAVAILABLE",
                "feed.photomesh").SerializeToString()),))


async def start_probe(script: Script) -> tuple[aio.Server, str]:
    server = aio.server()
    post_grpc.add_PostServiceServicer_to_server(ProbePosts(script), server)
    feed_grpc.add_FeedServiceServicer_to_server(ProbeFeed(script), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"

