"""What the post service asks its peers: the social graph (who may see whom, user
summaries, @username lookups) and the media service (is a media item the author's and
READY). Calls forward the caller's token and deadline (services.runtime.grpc_clients)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from grpc import aio
from photomesh.common.v1.media_pb2 import MediaRef
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from services.post.store import Mention
from services.runtime import graph_calls

PEER_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Audience:
    """How a viewer relates to a set of authors: who is visible, and their summaries."""

    summaries: dict[str, UserSummary] = field(default_factory=dict)
    visible: frozenset[str] = frozenset()
    private: frozenset[str] = frozenset()  # visible or not, the accounts that are private
    blocked: frozenset[str] = frozenset()  # either side blocks the other


@dataclass(frozen=True)
class MediaItem:
    owner_user_id: str
    ready: bool
    ref: MediaRef


class Graph:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = graph_grpc.SocialGraphServiceStub(channel)

    async def summaries(self, user_ids: Sequence[str]) -> dict[str, UserSummary]:
        return await graph_calls.summaries(self._stub, user_ids)

    async def audience(self, viewer_id: str, author_ids: Sequence[str]) -> Audience:
        """Visibility rule: the author is the viewer, or neither blocks the other and the
        author is public or followed by the viewer (an approved follow)."""
        authors = list(dict.fromkeys(author_ids))
        if not authors:
            return Audience()
        others = [a for a in authors if a != viewer_id]
        summaries, checks = await asyncio.gather(
            self.summaries(authors), graph_calls.relationships(self._stub, viewer_id, others))
        visible = {viewer_id} if viewer_id in authors else set()
        blocked = set()
        for check in checks.values():
            if check.blocked:
                blocked.add(check.target_user_id)
            if check.target_user_id not in summaries or check.blocked:
                continue
            if (not check.target_private
                    or check.status == graph_pb.RELATIONSHIP_STATUS_FOLLOWING):
                visible.add(check.target_user_id)
        private = {uid for uid, s in summaries.items() if s.private}
        return Audience(summaries, frozenset(visible), frozenset(private), frozenset(blocked))

    async def resolve_usernames(self, usernames: Sequence[str]) -> tuple[Mention, ...]:
        """The existing users among `usernames` (in order); unknown names stay plain text."""
        async def lookup(name: str) -> Mention | None:
            try:
                reply = await self._stub.GetProfileByUsername(
                    graph_pb.GetProfileByUsernameRequest(username=name),
                    timeout=PEER_TIMEOUT_SECONDS)
            except aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    return None
                raise
            return Mention(reply.profile.user_id, reply.profile.username or name)

        found = await asyncio.gather(*(lookup(n) for n in usernames))
        return tuple(dict.fromkeys(m for m in found if m is not None))


class Media:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = media_grpc.MediaServiceStub(channel)

    async def get(self, media_ids: Sequence[str]) -> dict[str, MediaItem]:
        """The items that exist among `media_ids` (missing ones are absent)."""
        reply = await self._stub.BatchGetMedia(
            media_pb.BatchGetMediaRequest(media_ids=list(dict.fromkeys(media_ids))),
            timeout=PEER_TIMEOUT_SECONDS)
        found = {}
        for item in reply.media:
            ref = MediaRef(media_id=item.media_id, kind=item.kind, width=item.width,
                           height=item.height, blurhash=item.blurhash, variants=item.variants)
            if item.HasField("duration"):
                ref.duration.CopyFrom(item.duration)
            found[item.media_id] = MediaItem(item.owner_user_id,
                                             item.status == media_pb.MEDIA_STATUS_READY, ref)
        return found
