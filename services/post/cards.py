"""A post's card: the `Post` message as every viewer sees it, without the fields that
change or depend on the viewer (the author's summary beyond its id, the counts,
``liked_by_caller``). Events carry it and read models store it serialized; a viewer's
`Post` is the card with those fields added."""

from __future__ import annotations

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.post.v1 import post_service_pb2 as pb

from services.post.model import PostRecord
from services.runtime.clock import timestamp_from_datetime


def card(record: PostRecord) -> pb.Post:
    create_time = timestamp_from_datetime(record.create_time)
    return pb.Post(post_id=record.post_id, author=UserSummary(user_id=record.author_id),
                   caption=record.caption, hashtags=list(record.hashtags),
                   mentions=[pb.Mention(user_id=m.user_id, username=m.username)
                             for m in record.mentions],
                   media=list(record.media), create_time=create_time)
