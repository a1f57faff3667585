"""Notifications assembled from stored bytes parse as the contract's messages."""

from __future__ import annotations

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.notification.v1 import notification_service_pb2 as pb

from services.notification import messages
from services.notification.cache import decode, encode
from services.notification.model import Entry, Kind, Notification, Subject


def sample() -> Notification:
    return Notification(7_000_000_000_123, Kind.COMMENT_ADDED, ("u-1", "u-2"), 5,
                        Subject(post_id=99, comment_id=12, text_preview="nice\nshot|!",
                                thumbnail_url="http://x/t.jpg"), 1_790_000_000_123)


def test_a_listed_notification_is_its_body_then_the_fields_of_the_read() -> None:
    n = sample()
    alice = UserSummary(user_id="u-1", username="alice", display_name="Alice")
    raw = messages.notification(messages.body(n), [alice.SerializeToString(),
                                                   messages.bare_summary("u-2")], 4, True)
    parsed = pb.Notification.FromString(raw)
    assert parsed.notification_id == n.notification_id
    assert parsed.type == pb.NOTIFICATION_TYPE_COMMENT_ADDED
    assert list(parsed.actors) == [alice, UserSummary(user_id="u-2")]
    assert parsed.actor_count == 4 and parsed.read
    assert (parsed.post_id, parsed.comment_id, parsed.story_id) == (99, 12, 0)
    assert parsed.text_preview == "nice\nshot|!" and parsed.thumbnail_url == "http://x/t.jpg"
    assert parsed.create_time.ToMilliseconds() == n.time_ms


def test_responses_are_items_then_the_token() -> None:
    items = [messages.notification(messages.body(sample()), [], 1, False) for _ in range(3)]
    listed = pb.ListNotificationsResponse.FromString(messages.list_response(items, "tok"))
    assert len(listed.notifications) == 3 and listed.next_page_token == "tok"
    assert not listed.notifications[0].read and listed.notifications[0].actor_count == 1
    pushed = pb.StreamNotificationsResponse.FromString(messages.stream_response(items[0], 12))
    assert pushed.unread_count == 12 and pushed.notification.post_id == 99


def test_a_cached_member_keeps_everything_a_read_needs() -> None:
    entry = Entry(7_000_000_000_999, 4, sample())
    stored = decode(encode(entry))
    assert (stored.sort_id, stored.notification_id) == (entry.sort_id, 7_000_000_000_123)
    assert stored.actor_count == 5 and stored.actor_ids == ("u-1", "u-2")
    assert stored.body == messages.body(entry.notification)
