"""The story service's calls to its peers: the social graph (followees, relationships,
user summaries) and media (the item a story shows).

Internal graph RPCs are called as the story service itself (service credentials); the
media item is asked for with the caller's own token, as the caller attaches it.

Followee ids and user summaries are kept in process for a few seconds (settings): every
tray read starts with the viewer's followees, and a viewer reads the tray again and again.
Relationships (blocks, private accounts) are never cached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Generic, TypeVar

from grpc import aio
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from services.runtime import graph_calls
from services.runtime.auth import ServiceCredentials

FOLLOWING_PAGE = 5000
CACHE_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept for `ttl` seconds (0: not at all), at most CACHE_ENTRIES (oldest
    dropped first); concurrent misses of one key share one load."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._values.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            del self._values[key]
            return None
        return hit[1]

    def put(self, key: K, value: V) -> None:
        if self._ttl <= 0:
            return
        self._values.pop(key, None)
        while len(self._values) >= CACHE_ENTRIES:
            del self._values[next(iter(self._values))]
        self._values[key] = (time.monotonic() + self._ttl, value)

    async def load(self, key: K, loader: Callable[[], Awaitable[V]]) -> V:
        hit = self.get(key)
        if hit is not None:
            return hit
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await loader()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(value)
            self.put(key, value)
            return value
        finally:
            del self._loading[key]


class GraphPeer:
    def __init__(self, channel: aio.Channel, credentials: ServiceCredentials, *,
                 following_ttl: float = 0.0, summary_ttl: float = 0.0) -> None:
        self._stub = graph_grpc.SocialGraphServiceStub(channel)
        self._creds = credentials
        self._following: TtlCache[tuple[str, int], list[str]] = TtlCache(following_ttl)
        self._summaries: TtlCache[str, UserSummary] = TtlCache(summary_ttl)

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """Up to `limit` ids of the users `user_id` follows (cached briefly)."""
        return await self._following.load((user_id, limit),
                                          lambda: self._list_following(user_id, limit))

    async def _list_following(self, user_id: str, limit: int) -> list[str]:
        found: list[str] = []
        token = ""
        with self._creds.acting():
            while len(found) < limit:
                reply = await self._stub.ListFollowingIds(graph_pb.ListFollowingIdsRequest(
                    user_id=user_id, page_size=min(FOLLOWING_PAGE, limit - len(found)),
                    page_token=token))
                found.extend(reply.user_ids)
                token = reply.next_page_token
                if not token:
                    break
        return found[:limit]

    async def relationships(self, user_id: str, targets: Sequence[str]
                            ) -> dict[str, graph_pb.FollowCheck]:
        """`user_id`'s relationship to each target."""
        with self._creds.acting():
            return await graph_calls.relationships(self._stub, user_id, targets)

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, UserSummary]:
        """Summaries of the known users among `user_ids` (cached briefly)."""
        found: dict[str, UserSummary] = {}
        missing = []
        for user_id in dict.fromkeys(user_ids):
            hit = self._summaries.get(user_id)
            if hit is None:
                missing.append(user_id)
            else:
                found[user_id] = hit
        if missing:
            with self._creds.acting():
                loaded = await graph_calls.summaries(self._stub, missing)
            for user_id, user in loaded.items():
                found[user_id] = user
                self._summaries.put(user_id, user)
        return found


class MediaPeer:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = media_grpc.MediaServiceStub(channel)

    async def get(self, media_id: str) -> media_pb.Media | None:
        """The media item (with the caller's token), or None if it does not exist."""
        reply = await self._stub.BatchGetMedia(media_pb.BatchGetMediaRequest(
            media_ids=[media_id]))
        return next((m for m in reply.media if m.media_id == media_id), None)
