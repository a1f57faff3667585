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

# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
_POST_AUTHOR = b"\x12"  # Post.author = 2
_POST_LIKES = b"\x38"  # Post.like_count = 7
_POST_COMMENTS = b"\x40"  # Post.comment_count = 8
_POST_LIKED = b"\x48\x01"  # Post.liked_by_caller = 9, true
_ITEM_POST = b"\x0a"  # FeedItem.post = 1
_ITEM_SCORE = b"\x11"  # FeedItem.score = 2 (double)
_RESPONSE_ITEMS = b"\x0a"  # GetHomeFeedResponse.items = 1, StreamHomeFeedResponse.item = 1
_RESPONSE_TOKEN = b"\x12"  # GetHomeFeedResponse.next_page_token = 2


def varint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf writes int64/uint64 values that are not negative."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def post(card: bytes, author: bytes, likes: int, comments: int, liked: bool) -> bytes:
    """A viewer's serialized `Post`: the card (no author), then `author` (a serialized
    UserSummary), the counts and the liked flag (zero values are left out, as protobuf
    does)."""
    parts = [card, _field(_POST_AUTHOR, author)]
    if likes > 0:
        parts.append(_POST_LIKES + varint(likes))
    if comments > 0:
        parts.append(_POST_COMMENTS + varint(comments))
    if liked:
        parts.append(_POST_LIKED)
    return b"".join(parts)


def feed_item(post_bytes: bytes, score: float = 0.0) -> bytes:
    item = _field(_ITEM_POST, post_bytes)
    if score:
        item += _ITEM_SCORE + struct.pack("<d", score)
    return item


def home_feed_response(items: Iterable[bytes], next_page_token: str) -> bytes:
    """A serialized GetHomeFeedResponse (also the shape of GetProfileFeedResponse)."""
    body = b"".join(_field(_RESPONSE_ITEMS, item) for item in items)
    if next_page_token:
        body += _field(_RESPONSE_TOKEN, next_page_token.encode())
    return body


def stream_response(item: bytes) -> bytes:
    """A serialized StreamHomeFeedResponse."""
    return _field(_RESPONSE_ITEMS, item)
