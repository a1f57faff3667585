"""Notifications as contract messages (photomesh.notification.v1), assembled from stored
serialized parts without parsing them.

A stored notification's *body* is its serialized `Notification` without the fields that
differ per read: the actors (stored as ids, shown as the summaries of the moment), the
actor count (less the actors a block now hides) and the read flag. Protobuf encodes a
field as tag, length and bytes, and a parser merges the occurrences of a repeated field,
so a listed notification is its body followed by those fields, and a response is its
notifications followed by the page token. Field numbers are those of
notification_service.proto and user.proto; tests/notification/test_messages.py checks
the result with the real parser.
"""

from __future__ import annotations

from collections.abc import Iterable

from photomesh.notification.v1 import notification_service_pb2 as pb

from services.notification.model import Notification
from services.runtime.protowire import length_delimited, varint

# Tags: (field number << 3) | wire type (services/runtime/protowire.py).
_ACTORS = b"\x1a"  # Notification.actors = 3
_ACTOR_COUNT = b"\x20"  # Notification.actor_count = 4
_READ = b"\x58\x01"  # Notification.read = 11, true
_SUMMARY_USER_ID = b"\x0a"  # UserSummary.user_id = 1
_LIST_ITEMS = b"\x0a"  # ListNotificationsResponse.notifications = 1
_LIST_TOKEN = b"\x12"  # ListNotificationsResponse.next_page_token = 2
_STREAM_ITEM = b"\x0a"  # StreamNotificationsResponse.notification = 1
_STREAM_UNREAD = b"\x10"  # StreamNotificationsResponse.unread_count = 2


def body(n: Notification) -> bytes:
    """The parts of a notification that are the same for every read."""
    message = pb.Notification(notification_id=n.notification_id, type=int(n.kind),  # type: ignore[arg-type]
                              post_id=n.subject.post_id, comment_id=n.subject.comment_id,
                              story_id=n.subject.story_id,
                              thumbnail_url=n.subject.thumbnail_url,
                              text_preview=n.subject.text_preview)
    message.create_time.FromMilliseconds(n.time_ms)
    return message.SerializeToString()


def bare_summary(user_id: str) -> bytes:
    """A serialized UserSummary holding only the id (a user the graph no longer knows)."""
    return length_delimited(_SUMMARY_USER_ID, user_id.encode())


def notification(stored_body: bytes, actors: Iterable[bytes], actor_count: int,
                 read: bool) -> bytes:
    """A serialized `Notification`: the stored body, then `actors` (serialized
    UserSummary messages, newest first), the actor count and the read flag."""
    parts = [stored_body, *(length_delimited(_ACTORS, a) for a in actors)]
    if actor_count > 0:
        parts.append(_ACTOR_COUNT + varint(actor_count))
    if read:
        parts.append(_READ)
    return b"".join(parts)


def list_response(notifications: Iterable[bytes], next_page_token: str) -> bytes:
    """A serialized ListNotificationsResponse."""
    out = b"".join(length_delimited(_LIST_ITEMS, n) for n in notifications)
    if next_page_token:
        out += length_delimited(_LIST_TOKEN, next_page_token.encode())
    return out


def stream_response(notification_bytes: bytes, unread_count: int) -> bytes:
    """A serialized StreamNotificationsResponse."""
    out = length_delimited(_STREAM_ITEM, notification_bytes)
    if unread_count > 0:
        out += _STREAM_UNREAD + varint(unread_count)
    return out
