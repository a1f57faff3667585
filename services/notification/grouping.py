"""The grouping rule: what one activity makes of its group (pure; no I/O).

Activities of one kind on one subject for one recipient (one group key) within the group
window join one notification ("alice and 3 others liked your post"): its actor count is
the number of distinct actors, its actors the latest three (newest first), its subject and
time those of the latest activity, and it moves to the top of the inbox (a new position,
so it is unread again). The window is counted from the notification's first activity;
after it, the next activity starts a new notification and the old one stays where it is.

A notification's new position is a fresh id, and always above its previous one (ids of
processes whose clocks differ a little could otherwise order a later activity below).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.notification.model import (
    MAX_ACTORS_SHOWN,
    Activity,
    Entry,
    Group,
    GroupState,
    Notification,
)
from services.runtime.ids import id_time_ms


@dataclass(frozen=True)
class Change:
    """The group after the activity, and what that means for the inbox."""

    group: Group
    moved_from: int  # the entry's previous position to remove (0: none)
    new_actor: bool  # the actor was not counted in this notification before

    @property
    def entry(self) -> Entry:
        return self.group.entry

    @property
    def fresh(self) -> bool:
        """A new notification (not one that gained an activity)."""
        return self.moved_from == 0


def apply(state: GroupState, activity: Activity, new_id: int, window_ms: int) -> Change:
    """The change `activity` makes to its group, given the group's state; `new_id` is a
    fresh Snowflake id for the position."""
    group = state.group
    if group is None:
        return _start(activity, new_id, 1)
    current = group.entry
    sort_id = max(new_id, current.sort_id + 1)
    now = id_time_ms(sort_id)
    if now - group.window_start_ms >= window_ms:
        return _start(activity, sort_id, current.version + 1)
    shown = current.notification
    new_actor = state.actor_counted_in != shown.notification_id
    actors = (activity.actor_id, *(a for a in shown.actor_ids if a != activity.actor_id))
    notification = Notification(shown.notification_id, activity.kind,
                                actors[:MAX_ACTORS_SHOWN],
                                shown.actor_count + (1 if new_actor else 0),
                                activity.subject, now)
    return Change(Group(Entry(sort_id, current.version + 1, notification), current.sort_id,
                        group.window_start_ms), current.sort_id, new_actor)


def _start(activity: Activity, sort_id: int, version: int) -> Change:
    now = id_time_ms(sort_id)
    notification = Notification(sort_id, activity.kind, (activity.actor_id,), 1,
                                activity.subject, now)
    return Change(Group(Entry(sort_id, version, notification), 0, now), 0, True)
