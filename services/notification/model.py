"""What a notification is, independent of gRPC and of storage (no I/O here).

An `Activity` is one recipient's share of a domain event ("bob liked your post 42"); the
inbox groups activities of one kind on one subject into a `Notification` ("bob and 3
others liked your post 42"), which sits in the inbox at the position of its latest
activity (`Entry.sort_id`). `Group` is the open notification of one (recipient, group
key), the state the grouping rule (grouping.py) reads and replaces.

The numeric values of `Kind` equal those of the contract's NotificationType, so the
transport converts by value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_ACTORS_SHOWN = 3


class Kind(enum.IntEnum):
    NEW_FOLLOWER = 1
    FOLLOW_REQUEST = 2
    FOLLOW_APPROVED = 3
    POST_LIKED = 4
    COMMENT_ADDED = 5
    MENTIONED = 6
    STORY_PUBLISHED = 7
    POST_PUBLISHED = 8
    MESSAGE_RECEIVED = 9


@dataclass(frozen=True)
class Subject:
    """What a notification is about (zero or empty when it does not apply)."""

    post_id: int = 0
    comment_id: int = 0
    story_id: int = 0
    text_preview: str = ""
    thumbnail_url: str = ""


@dataclass(frozen=True)
class Activity:
    """One recipient's share of an event. `group_key` names the subject repeats are
    grouped on ("liked/42"); `event_key` makes a replay of the event recognisable."""

    recipient_id: str
    actor_id: str
    kind: Kind
    group_key: str
    event_key: str
    subject: Subject = Subject()


@dataclass(frozen=True)
class Notification:
    notification_id: int  # the Snowflake id of its first activity; kept while it groups
    kind: Kind
    actor_ids: tuple[str, ...]  # the latest actors, newest first, at most MAX_ACTORS_SHOWN
    actor_count: int  # distinct actors in the group
    subject: Subject  # as the latest activity gave it
    time_ms: int  # Unix ms of the latest activity


@dataclass(frozen=True)
class Entry:
    """A notification at its place in the inbox: `sort_id` is the id of its latest
    activity (inboxes are listed by it, newest first); `version` counts the changes of the
    group it belongs to (a later version of the same notification replaces an earlier)."""

    sort_id: int
    version: int
    notification: Notification


@dataclass(frozen=True)
class Group:
    """The open notification of one (recipient, group key)."""

    entry: Entry
    prev_sort_id: int  # where the entry sat before its latest move (0: it never moved)
    window_start_ms: int  # when the notification started; the window is counted from here


@dataclass(frozen=True)
class GroupState:
    """What the store holds about an activity's group before the activity is applied."""

    group: Group | None
    actor_counted_in: int | None  # the notification the actor was last counted in
    applied_at: int | None  # a replay: where the event's first application placed its entry

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


def read(sort_id: int, watermark: int) -> bool:
    """A notification is read when its position is at or below the read watermark."""
    return sort_id <= watermark
