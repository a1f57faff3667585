"""What each domain event means for whom: events in, activities out (no I/O).

An activity is one recipient's share of an event. Its group key names the subject that
repeats are grouped on ("likes of post 42"); its event key makes a replay recognisable.
"""

from __future__ import annotations

from collections.abc import Iterable

from photomesh.common.v1 import media_pb2 as media_pb
from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.message.v1 import events_pb2 as message_events
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import events_pb2 as story_events

from services.notification.model import Activity, Kind, Subject

PREVIEW_MAX = 100
NO_SUBJECT = Subject()


def _one(event_id: str, recipient: str, actor: str, kind: Kind, group: str,
         subject: Subject = NO_SUBJECT) -> Activity:
    return Activity(recipient, actor, kind, group, f"{event_id}/{group}", subject)


def followed(e: graph_events.FollowedEvent) -> list[Activity]:
    return [_one(e.event_id, e.followee_user_id, e.follower_user_id, Kind.NEW_FOLLOWER,
                 "follower")]


def follow_requested(e: graph_events.FollowRequestedEvent) -> list[Activity]:
    return [_one(e.event_id, e.target_user_id, e.requester_user_id, Kind.FOLLOW_REQUEST,
                 "follow_request")]


def follow_approved(e: graph_events.FollowApprovedEvent) -> list[Activity]:
    return [_one(e.event_id, e.requester_user_id, e.approver_user_id, Kind.FOLLOW_APPROVED,
                 "follow_approved")]


def post_liked(e: post_events.PostLikedEvent) -> list[Activity]:
    return [_one(e.event_id, e.post_author_user_id, e.liker_user_id, Kind.POST_LIKED,
                 f"liked/{e.post_id}", Subject(post_id=e.post_id))]


def comment_added(e: post_events.CommentAddedEvent) -> list[Activity]:
    subject = Subject(post_id=e.post_id, comment_id=e.comment_id,
                      text_preview=e.text_preview[:PREVIEW_MAX])
    found = [_one(e.event_id, e.post_author_user_id, e.commenter_user_id, Kind.COMMENT_ADDED,
                  f"comment/{e.post_id}", subject)]
    if e.parent_comment_author_user_id and \
            e.parent_comment_author_user_id != e.post_author_user_id:
        found.append(_one(e.event_id, e.parent_comment_author_user_id, e.commenter_user_id,
                          Kind.COMMENT_ADDED, f"reply/{e.parent_comment_id}", subject))
    told = {a.recipient_id for a in found}
    found.extend(_mentions(e.event_id, e.mentioned_user_ids, told, e.commenter_user_id,
                           subject))
    return found


def post_created(e: post_events.PostCreatedEvent) -> list[Activity]:
    return _mentions(e.event_id, e.mentioned_user_ids, set(), e.author_user_id,
                     Subject(post_id=e.post_id, text_preview=e.caption_preview[:PREVIEW_MAX],
                             thumbnail_url=thumbnail(e)))


def thumbnail(e: post_events.PostCreatedEvent) -> str:
    return _thumbnail(e.media[0]) if e.media else ""


def _thumbnail(media: media_pb.MediaRef) -> str:
    """URL of the media item's thumbnail (or smallest variant); empty if none."""
    variants = media.variants
    thumb = [v.url for v in variants if v.name == media_pb.VARIANT_NAME_THUMBNAIL]
    return thumb[0] if thumb else (variants[0].url if variants else "")


def _mentions(event_id: str, mentioned: Iterable[str], told: set[str], actor: str,
              subject: Subject) -> list[Activity]:
    group = f"mention/{subject.post_id}/{subject.comment_id}"
    return [_one(event_id, user, actor, Kind.MENTIONED, group, subject)
            for user in dict.fromkeys(mentioned) if user not in told]


def new_story_for(e: story_events.StoryPublishedEvent, follower_id: str) -> Activity:
    return _one(e.event_id, follower_id, e.author_user_id, Kind.STORY_PUBLISHED,
                f"story/{e.author_user_id}",
                Subject(story_id=e.story_id,
                        thumbnail_url=_thumbnail(e.media) if e.HasField("media") else ""))


def new_post_for(e: post_events.PostCreatedEvent, follower_id: str) -> Activity:
    return _one(e.event_id, follower_id, e.author_user_id, Kind.POST_PUBLISHED,
                f"post/{e.author_user_id}",
                Subject(post_id=e.post_id, text_preview=e.caption_preview[:PREVIEW_MAX],
                        thumbnail_url=thumbnail(e)))


def message_sent(e: message_events.MessageSentEvent) -> list[Activity]:
    """Every other member of the thread; repeats in one thread group into one
    notification ("alice sent you messages")."""
    subject = Subject(text_preview=e.text_preview[:PREVIEW_MAX])
    return [_one(e.event_id, member, e.sender_user_id, Kind.MESSAGE_RECEIVED,
                 f"message/{e.thread_id}", subject)
            for member in dict.fromkeys(e.member_user_ids) if member != e.sender_user_id]
