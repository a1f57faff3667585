"""The post service's events on the ``post`` stream (photomesh/post/v1/events.proto).

Each event's id is derived from what it reports (``post.created:<post_id>`` …), so the
retry of a call whose publish failed publishes the same ``Nats-Msg-Id`` and JetStream drops
the duplicate. Publishing waits for JetStream's acknowledgement and happens only after the
CQL write it reports.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from photomesh.post.v1 import events_pb2 as ev

from services.post.captions import preview
from services.post.cards import card
from services.post.model import CommentRecord, LikeRow, PostRecord
from services.runtime.clock import timestamp_from_datetime
from services.runtime.events import EventBus

DOMAIN = "post"
_NAMESPACE = uuid.UUID("5f1d2a0e-6c1b-4f4e-9d55-7f0e8a4c2b11")


def _event_id(msg_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, msg_id))


class PostEvents:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def ensure_stream(self) -> None:
        await self._bus.ensure_stream(DOMAIN)

    async def post_created(self, post: PostRecord) -> None:
        msg_id = f"post.created:{post.post_id}"
        await self._bus.publish(DOMAIN, "created", ev.PostCreatedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_datetime(post.create_time),
            post_id=post.post_id,
            author_user_id=post.author_id, create_time=timestamp_from_datetime(post.create_time),
            media_ids=[m.media_id for m in post.media], hashtags=list(post.hashtags),
            mentioned_user_ids=[m.user_id for m in post.mentions], media=list(post.media),
            caption_preview=preview(post.caption), post=card(post)), msg_id=msg_id)

    async def post_deleted(self, post: PostRecord, now: datetime) -> None:
        msg_id = f"post.deleted:{post.post_id}"
        await self._bus.publish(DOMAIN, "deleted", ev.PostDeletedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_datetime(now),
            post_id=post.post_id,
            author_user_id=post.author_id, media_ids=[m.media_id for m in post.media]),
            msg_id=msg_id)

    async def post_liked(self, post: PostRecord, like: LikeRow) -> None:
        msg_id = f"post.liked:{post.post_id}:{like.user_id}:{like.like_id}"
        await self._bus.publish(DOMAIN, "liked", ev.PostLikedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_datetime(like.like_time),
            post_id=post.post_id,
            post_author_user_id=post.author_id, liker_user_id=like.user_id,
            like_id=like.like_id), msg_id=msg_id)

    async def post_unliked(self, post: PostRecord, like: LikeRow, now: datetime) -> None:
        msg_id = f"post.unliked:{post.post_id}:{like.user_id}:{like.like_id}"
        await self._bus.publish(DOMAIN, "unliked", ev.PostUnlikedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_datetime(now),
            post_id=post.post_id,
            post_author_user_id=post.author_id, liker_user_id=like.user_id,
            like_id=like.like_id), msg_id=msg_id)

    async def comment_added(self, post: PostRecord, comment: CommentRecord,
                            parent: CommentRecord | None) -> None:
        msg_id = f"post.comment_added:{comment.comment_id}"
        await self._bus.publish(DOMAIN, "comment_added", ev.CommentAddedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_datetime(comment.create_time),
            comment_id=comment.comment_id, post_id=post.post_id,
            post_author_user_id=post.author_id, commenter_user_id=comment.author_id,
            parent_comment_id=comment.parent_id,
            parent_comment_author_user_id=parent.author_id if parent else "",
            mentioned_user_ids=[m.user_id for m in comment.mentions],
            text_preview=preview(comment.text)), msg_id=msg_id)

    async def comment_deleted(self, post: PostRecord, comment: CommentRecord, removed: int,
                              now: datetime) -> None:
        msg_id = f"post.comment_deleted:{comment.comment_id}"
        await self._bus.publish(DOMAIN, "comment_deleted", ev.CommentDeletedEvent(
            event_id=_event_id(msg_id), event_time=timestamp_from_datetime(now),
            comment_id=comment.comment_id,
            post_id=post.post_id, post_author_user_id=post.author_id,
            comment_author_user_id=comment.author_id, parent_comment_id=comment.parent_id,
            removed_comment_count=removed), msg_id=msg_id)
