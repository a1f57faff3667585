"""The seed's way into a running mesh: the public gRPC API of each service (as any internal
caller would use it), one signed-in session per seeded person, and calls retried while a
busy backend answers UNAVAILABLE (every write the seed makes is idempotent)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc
from photomesh.story.v1 import story_service_pb2_grpc as story_grpc

T = TypeVar("T")
RETRIED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
           grpc.StatusCode.RESOURCE_EXHAUSTED}
ATTEMPTS = 6
TIMEOUT = 60.0
#: Refresh an access token this long before it expires.
EARLY_SECONDS = 60.0


class MeshStubs:
    """Stubs of the services the seed writes through, on one channel each."""

    def __init__(self, targets: Mapping[str, str]) -> None:
        options = [("grpc.max_receive_message_length", 16 << 20)]
        self._channels = {name: aio.insecure_channel(targets[name], options=options)
                          for name in ("auth", "graph", "post", "story", "media")}
        self.auth = auth_grpc.AuthServiceStub(self._channels["auth"])
        self.graph = graph_grpc.SocialGraphServiceStub(self._channels["graph"])
        self.post = post_grpc.PostServiceStub(self._channels["post"])
        self.story = story_grpc.StoryServiceStub(self._channels["story"])
        self.media = media_grpc.MediaServiceStub(self._channels["media"])

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


async def call(method: Callable[..., Awaitable[T]], request: Any,
               metadata: Iterable[tuple[str, str]] = ()) -> T:
    """`method(request)`, retried with backoff on UNAVAILABLE and friends."""
    for attempt in range(ATTEMPTS):
        try:
            return await method(request, metadata=tuple(metadata), timeout=TIMEOUT)
        except aio.AioRpcError as exc:
            if exc.code() not in RETRIED or attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2 * 2 ** attempt)
    raise AssertionError("unreachable")


@dataclass
class SignedIn:
    """One seeded person's session; `metadata()` refreshes the token before it expires."""

    username: str
    user_id: str
    access_token: str
    refresh_token: str
    expires_at: float
    stubs: MeshStubs
    #: One refresh at a time: a refresh token presented twice revokes the session.
    _refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def of(cls, username: str, user_id: str, tokens: auth_pb.AuthTokens,
           stubs: MeshStubs) -> SignedIn:
        return cls(username, user_id, tokens.access_token, tokens.refresh_token,
                   tokens.access_token_expire_time.seconds, stubs)

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        if self.expires_at - time.time() < EARLY_SECONDS:
            async with self._refreshing:
                if self.expires_at - time.time() < EARLY_SECONDS:  # not renewed meanwhile
                    reply = await call(self.stubs.auth.Refresh, auth_pb.RefreshRequest(
                        refresh_token=self.refresh_token))
                    self.access_token = reply.tokens.access_token
                    self.refresh_token = reply.tokens.refresh_token
                    self.expires_at = reply.tokens.access_token_expire_time.seconds
        return (("authorization", f"Bearer {self.access_token}"),)

    async def call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        return await call(method, request, await self.metadata())


async def bounded(tasks: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await `tasks` with at most `limit` running at once; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(task: Awaitable[T]) -> T:
        async with gate:
            return await task

    return list(await asyncio.gather(*(one(t) for t in tasks)))


def put(url: str, method: str, headers: Mapping[str, str], body: bytes) -> None:
    """The upload itself: straight to object storage with the pre-signed URL."""
    request = urllib.request.Request(url, data=body, method=method or "PUT",
                                     headers=dict(headers))
    with urllib.request.urlopen(request, timeout=60) as reply:
        reply.read()
