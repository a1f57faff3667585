"""The grouping rule alone (pure: no store, no cache)."""

from __future__ import annotations

from services.notification import grouping
from services.notification.model import Activity, Entry, Group, GroupState, Kind, Subject
from services.runtime.ids import id_time_ms, min_id_at

T0 = 1_790_000_000_000  # Unix ms
HOUR = 3_600_000


def like(actor: str, post_id: int = 42) -> Activity:
    return Activity("me", actor, Kind.POST_LIKED, f"liked/{post_id}", f"e-{actor}/liked",
                    Subject(post_id=post_id))


def at(ms: int, seq: int = 0) -> int:
    return min_id_at(ms) + seq


def after(change: grouping.Change, counted_in: int | None = None) -> GroupState:
    return GroupState(change.group, counted_in, None)


def test_the_first_activity_starts_a_notification() -> None:
    change = grouping.apply(GroupState(None, None, None), like("a"), at(T0), HOUR)
    n = change.entry.notification
    assert change.fresh and change.moved_from == 0 and change.new_actor
    assert (n.notification_id, n.actor_ids, n.actor_count) == (at(T0), ("a",), 1)
    assert change.entry.version == 1 and n.time_ms == T0


def test_repeats_group_move_up_and_count_distinct_actors() -> None:
    first = grouping.apply(GroupState(None, None, None), like("a"), at(T0), HOUR)
    second = grouping.apply(after(first), like("b"), at(T0 + 1000), HOUR)
    nid = first.entry.notification.notification_id
    assert second.moved_from == first.entry.sort_id and not second.fresh
    assert second.entry.notification.notification_id == nid
    assert second.entry.notification.actor_ids == ("b", "a")
    assert second.entry.notification.actor_count == 2 and second.entry.version == 2
    # "a" again (already counted in this notification): first among the actors, not
    # counted twice.
    third = grouping.apply(after(second, counted_in=nid), like("a"), at(T0 + 2000), HOUR)
    assert third.entry.notification.actor_ids == ("a", "b")
    assert third.entry.notification.actor_count == 2 and not third.new_actor
    # At most three actors are shown; the count goes on.
    state = after(third)
    for actor in ("c", "d", "e"):
        state = after(grouping.apply(state, like(actor), at(T0 + 3000), HOUR))
    assert state.group is not None
    assert state.group.entry.notification.actor_ids == ("e", "d", "c")
    assert state.group.entry.notification.actor_count == 5


def test_after_the_window_a_new_notification_starts_and_the_old_one_stays() -> None:
    first = grouping.apply(GroupState(None, None, None), like("a"), at(T0), HOUR)
    later = grouping.apply(after(first), like("b"), at(T0 + HOUR), HOUR)
    assert later.fresh and later.moved_from == 0
    assert later.entry.notification.notification_id == later.entry.sort_id
    assert later.entry.notification.notification_id != first.entry.notification.notification_id
    assert later.entry.version == 2  # the group's versions go on
    assert later.group.window_start_ms == T0 + HOUR


def test_a_new_position_is_always_above_the_previous_one() -> None:
    """A worker whose clock is behind still moves the notification up."""
    group = Group(Entry(at(T0, 7), 3, grouping.apply(
        GroupState(None, None, None), like("a"), at(T0), HOUR).entry.notification),
        0, T0)
    change = grouping.apply(GroupState(group, None, None), like("b"), at(T0 - 50), HOUR)
    assert change.entry.sort_id == at(T0, 8)
    assert id_time_ms(change.entry.sort_id) == change.entry.notification.time_ms
