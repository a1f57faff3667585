"""Domain types of the message service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

MAX_MEMBERS = 32
MAX_TEXT = 1000
MAX_NAME = 100
PREVIEW_CHARS = 100
_DIRECT_NAMESPACE = uuid.UUID("0e5b7f1c-2d8a-4c3e-9b61-5a7d2f4e8c90")
_GROUP_NAMESPACE = uuid.UUID("6a3c1e9d-4b2f-4e7a-8d15-3f9b0c7e2a41")


class Kind(IntEnum):
    DIRECT = 1
    GROUP = 2


class Role(IntEnum):
    MEMBER = 1
    ADMIN = 2
    CREATOR = 3


class Folder(IntEnum):
    INBOX = 1
    REQUESTS = 2


def direct_thread_id(a: str, b: str) -> str:
    """The one thread of two users: derived from the sorted pair, so opening it twice (or
    from both sides at once) names the same row."""
    low, high = sorted((a, b))
    return str(uuid.uuid5(_DIRECT_NAMESPACE, f"{low}:{high}"))


def group_thread_id(creator_id: str, request_id: str) -> str:
    """A group's id, derived from its create request (a retry names the same group)."""
    return str(uuid.uuid5(_GROUP_NAMESPACE, f"{creator_id}:{request_id}"))


@dataclass
class ThreadRecord:
    thread_id: str
    kind: Kind
    name: str
    creator_id: str
    create_time: datetime
    members: dict[str, Role]
    accepted: set[str] = field(default_factory=set)
    read_marks: dict[str, int] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    version: int = 0

    def is_admin(self, user_id: str) -> bool:
        return self.members.get(user_id, Role.MEMBER) >= Role.ADMIN

    def others(self, user_id: str) -> list[str]:
        return [m for m in self.members if m != user_id]


@dataclass(frozen=True)
class MessageRecord:
    """A stored message: `body` is the serialized contract `Message` (shared post as it
    was shared); `shared_post_author_id` decides who may see that post."""

    thread_id: str
    message_id: int
    sender_id: str
    body: bytes
    shared_post_author_id: str | None
    unsent: bool = False


@dataclass
class InboxEntry:
    user_id: str
    thread_id: str
    folder: Folder
    sort_id: int
    last_message: bytes | None
    unread_ids: set[int]
    read_up_to: int

    @property
    def unread(self) -> int:
        return sum(1 for i in self.unread_ids if i > self.read_up_to)
