"""Feed responses assembled from stored serialized parts, without parsing them.

Protobuf encodes a message field as its tag, the length and the bytes, and a parser
merges repeated occurrences; so a `Post` is its stored card (every field that is the
same for all viewers) followed by the fields this viewer's copy adds: the author's
summary, the counts and ``liked_by_caller``. A `FeedItem` wraps a post (and a score), a
response is its items followed by the page token. Field numbers are those of
feed_service.proto and post_service.proto; tests/feed/test_wire.py checks the result
with the real parser.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from services.runtime.protowire import length_delimited, varint

# Tags: (field number << 3) | wire type (services/runtime/protowire.py).
_POST_AUTHOR = b"\x12"  # Post.author = 2
_POST_LIKES = b"\x38"  # Post.like_count = 7
_POST_COMMENTS = b"\x40"  # Post.comment_count = 8
_POST_LIKED = b"\x48\x01"  # Post.liked_by_caller = 9, true
_ITEM_POST = b"\x0a"  # FeedItem.post = 1
_ITEM_SCORE = b"\x11"  # FeedItem.score = 2 (double)
_RESPONSE_ITEMS = b"\x0a"  # GetHomeFeedResponse.items = 1, StreamHomeFeedResponse.item = 1
_RESPONSE_TOKEN = b"\x12"  # GetHomeFeedResponse.next_page_token = 2


def post(card: bytes, author: bytes, likes: int, comments: int, liked: bool) -> bytes:
    """A viewer's serialized `Post`: the card (no author), then `author` (a serialized
    UserSummary), the counts and the liked flag (zero values are left out, as protobuf
    does)."""
    parts = [card, length_delimited(_POST_AUTHOR, author)]
    if likes > 0:
        parts.append(_POST_LIKES + varint(likes))
    if comments > 0:
        parts.append(_POST_COMMENTS + varint(comments))
    if liked:
        parts.append(_POST_LIKED)
    return b"".join(parts)


def feed_item(post_bytes: bytes, score: float = 0.0) -> bytes:
    item = length_delimited(_ITEM_POST, post_bytes)
    if score:
        item += _ITEM_SCORE + struct.pack("<d", score)
    return item


def home_feed_response(items: Iterable[bytes], next_page_token: str) -> bytes:
    """A serialized GetHomeFeedResponse (also the shape of GetProfileFeedResponse)."""
    body = b"".join(length_delimited(_RESPONSE_ITEMS, item) for item in items)
    if next_page_token:
        body += length_delimited(_RESPONSE_TOKEN, next_page_token.encode())
    return body


def stream_response(item: bytes) -> bytes:
    """A serialized StreamHomeFeedResponse."""
    return length_delimited(_RESPONSE_ITEMS, item)
