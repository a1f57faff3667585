"""What each domain event means for whom: events in, activities out (no I/O).

An activity is one recipient's share of an event. Its group key names the subject that
repeats are grouped on ("likes of post 42"); its event key makes a replay recognisable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from photomesh.common.v1 import media_pb2 as media_pb
from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import events_pb2 as story_events

PREVIEW_MAX = 100


@dataclass(frozen=True)
class Activity:
    recipient_id: str
    actor_id: str
    type: int
    group_key: str
    event_key: str
    post_id: int = 0
    comment_id: int = 0
    story_id: int = 0
    text_preview: str = ""
    thumbnail_url: str = ""


def _one(event_id: str, recipient: str, actor: str, type_: int, group: str,
         **fields: object) -> Activity:
    return Activity(recipient, actor, type_, group, f"{event_id}/{group}", **fields)  # type: ignore[arg-type]


def followed(e: graph_events.FollowedEvent) -> list[Activity]:
    return [_one(e.event_id, e.followee_user_id, e.follower_user_id,
                 pb.NOTIFICATION_TYPE_NEW_FOLLOWER, "follower")]


def follow_requested(e: graph_events.FollowRequestedEvent) -> list[Activity]:
    return [_one(e.event_id, e.target_user_id, e.requester_user_id,
                 pb.NOTIFICATION_TYPE_FOLLOW_REQUEST, "follow_request")]


def follow_approved(e: graph_events.FollowApprovedEvent) -> list[Activity]:
    return [_one(e.event_id, e.requester_user_id, e.approver_user_id,
                 pb.NOTIFICATION_TYPE_FOLLOW_APPROVED, "follow_approved")]


def post_liked(e: post_events.PostLikedEvent) -> list[Activity]:
    return [_one(e.event_id, e.post_author_user_id, e.liker_user_id,
                 pb.NOTIFICATION_TYPE_POST_LIKED, f"liked/{e.post_id}", post_id=e.post_id)]


def comment_added(e: post_events.CommentAddedEvent) -> list[Activity]:
    preview = e.text_preview[:PREVIEW_MAX]
    found = [_one(e.event_id, e.post_author_user_id, e.commenter_user_id,
                  pb.NOTIFICATION_TYPE_COMMENT_ADDED, f"comment/{e.post_id}",
                  post_id=e.post_id, comment_id=e.comment_id, text_preview=preview)]
    if e.parent_comment_author_user_id and \
            e.parent_comment_author_user_id != e.post_author_user_id:
        found.append(_one(e.event_id, e.parent_comment_author_user_id, e.commenter_user_id,
                          pb.NOTIFICATION_TYPE_COMMENT_ADDED, f"reply/{e.parent_comment_id}",
                          post_id=e.post_id, comment_id=e.comment_id, text_preview=preview))
    told = {a.recipient_id for a in found}
    found.extend(_mentions(e.event_id, e.mentioned_user_ids, told, e.commenter_user_id,
                           e.post_id, e.comment_id, preview))
    return found


def post_created(e: post_events.PostCreatedEvent) -> list[Activity]:
    return _mentions(e.event_id, e.mentioned_user_ids, set(), e.author_user_id, e.post_id, 0,
                     e.caption_preview[:PREVIEW_MAX], thumbnail(e))


def thumbnail(e: post_events.PostCreatedEvent) -> str:
    return _thumbnail(e.media[0]) if e.media else ""


def _thumbnail(media: media_pb.MediaRef) -> str:
    """URL of the media item's thumbnail (or smallest variant); empty if none."""
    variants = media.variants
    thumb = [v.url for v in variants if v.name == media_pb.VARIANT_NAME_THUMBNAIL]
    return thumb[0] if thumb else (variants[0].url if variants else "")


def _mentions(event_id: str, mentioned: Iterable[str], told: set[str], actor: str,
              post_id: int, comment_id: int, preview: str, thumbnail_url: str = ""
              ) -> list[Activity]:
    return [_one(event_id, user, actor, pb.NOTIFICATION_TYPE_MENTIONED,
                 f"mention/{post_id}/{comment_id}", post_id=post_id, comment_id=comment_id,
                 text_preview=preview, thumbnail_url=thumbnail_url)
            for user in dict.fromkeys(mentioned) if user not in told]


def new_story_for(e: story_events.StoryPublishedEvent, follower_id: str) -> Activity:
    return _one(e.event_id, follower_id, e.author_user_id,
                pb.NOTIFICATION_TYPE_STORY_PUBLISHED, f"story/{e.author_user_id}",
                story_id=e.story_id,
                thumbnail_url=_thumbnail(e.media) if e.HasField("media") else "")


def new_post_for(e: post_events.PostCreatedEvent, follower_id: str) -> Activity:
    return _one(e.event_id, follower_id, e.author_user_id,
                pb.NOTIFICATION_TYPE_POST_PUBLISHED, f"post/{e.author_user_id}",
                post_id=e.post_id, text_preview=e.caption_preview[:PREVIEW_MAX],
                thumbnail_url=thumbnail(e))
