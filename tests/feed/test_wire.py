"""Feed responses assembled from stored bytes parse as the contract's messages."""

from __future__ import annotations

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.feed.v1 import feed_service_pb2 as pb
from photomesh.post.v1.post_service_pb2 import Post

from services.feed import wire
from services.runtime.protowire import varint


def card() -> bytes:
    """What the read model stores: the post without author, counts or liked flag."""
    return Post(post_id=2**62 + 5, caption="sunset é #sea", hashtags=["sea"]).SerializeToString()


def test_a_post_is_its_card_then_the_viewer_fields() -> None:
    author = UserSummary(user_id="u-1", username="alice", display_name="Alice")
    parsed = Post.FromString(wire.post(card(), author.SerializeToString(), 300, 2, True))
    assert parsed.post_id == 2**62 + 5 and parsed.caption == "sunset é #sea"
    assert list(parsed.hashtags) == ["sea"] and parsed.author == author
    assert (parsed.like_count, parsed.comment_count, parsed.liked_by_caller) == (300, 2, True)
    bare = Post.FromString(wire.post(card(), b"", 0, 0, False))
    assert (bare.like_count, bare.comment_count, bare.liked_by_caller) == (0, 0, False)


def test_responses_are_items_then_the_token() -> None:
    posts = [wire.post(card(), UserSummary(user_id=f"u-{i}").SerializeToString(), i, 0, False)
             for i in range(3)]
    items = [wire.feed_item(posts[0], 0.75), *(wire.feed_item(p) for p in posts[1:])]
    page = pb.GetHomeFeedResponse.FromString(wire.home_feed_response(items, "next"))
    assert [i.post.author.user_id for i in page.items] == ["u-0", "u-1", "u-2"]
    assert [i.score for i in page.items] == [0.75, 0.0, 0.0]
    assert [i.post.like_count for i in page.items] == [0, 1, 2]
    assert page.next_page_token == "next"
    assert not pb.GetHomeFeedResponse.FromString(wire.home_feed_response(items, "")
                                                 ).next_page_token
    pushed = pb.StreamHomeFeedResponse.FromString(wire.stream_response(items[1]))
    assert pushed.item.post.author.user_id == "u-1"


def test_varints_are_protobufs_own() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1):
        assert Post.FromString(b"\x08" + varint(value)).post_id == value
