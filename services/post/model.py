"""The post service's domain records: posts, comments, likes and the claims that make
creates idempotent (no gRPC or storage types)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from photomesh.common.v1.media_pb2 import MediaRef


@dataclass(frozen=True)
class Mention:
    user_id: str
    username: str


@dataclass(frozen=True)
class PostRecord:
    post_id: int
    author_id: str
    caption: str
    hashtags: tuple[str, ...]
    mentions: tuple[Mention, ...]
    media: tuple[MediaRef, ...]
    create_time: datetime
    published: bool = False
    deleted: bool = False
    deleted_ms: int | None = None  # when it was deleted (ms), if it was


@dataclass(frozen=True)
class CommentRecord:
    comment_id: int
    post_id: int
    parent_id: int
    author_id: str
    text: str
    mentions: tuple[Mention, ...]
    create_time: datetime
    published: bool = False


@dataclass(frozen=True)
class CommentRef:
    comment_id: int
    parent_id: int
    author_id: str
    deleted: bool
    deleted_ms: int | None = None  # when it was deleted (ms, the cell's write time), if it was


@dataclass(frozen=True)
class LikeRow:
    like_id: int
    user_id: str
    like_time: datetime


@dataclass(frozen=True)
class LikeState:
    """A post like's row: the like, whether its event went out, whether it is being
    removed (an unlike that has not finished)."""

    like: LikeRow
    published: bool
    unliked: bool


@dataclass(frozen=True)
class Claim:
    """The row a lightweight transaction wrote or found: `ours` when this call wrote it."""

    ours: bool
    target_id: int
    fingerprint: str
