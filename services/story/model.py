"""What a story is, independent of transport and storage."""

from __future__ import annotations

from dataclasses import dataclass

from photomesh.common.v1.media_pb2 import MediaRef
from photomesh.story.v1 import story_service_pb2 as pb

from services.runtime.ids import id_time_ms

FOLLOWERS = pb.STORY_AUDIENCE_FOLLOWERS
CLOSE_FRIENDS = pb.STORY_AUDIENCE_CLOSE_FRIENDS


@dataclass(frozen=True)
class StoryRecord:
    """A stored story. Times are Unix milliseconds; `media` is None for a text story."""

    story_id: int
    author_id: str
    audience: int
    text: str
    media: MediaRef | None
    create_ms: int
    expire_ms: int

    def live_at(self, now_ms: int) -> bool:
        return now_ms < self.expire_ms

    def to_bytes(self) -> bytes:
        """The stored form: a Story message holding only the author's id."""
        story = pb.Story(story_id=self.story_id, text=self.text, audience=self.audience)  # type: ignore[arg-type]
        story.author.user_id = self.author_id
        if self.media is not None:
            story.media.CopyFrom(self.media)
        story.create_time.FromMilliseconds(self.create_ms)
        story.expire_time.FromMilliseconds(self.expire_ms)
        return story.SerializeToString()

    @classmethod
    def from_bytes(cls, data: bytes) -> StoryRecord:
        story = pb.Story.FromString(data)
        return cls(story.story_id, story.author.user_id, story.audience, story.text,
                   story.media if story.HasField("media") else None,
                   story.create_time.ToMilliseconds(), story.expire_time.ToMilliseconds())


@dataclass(frozen=True, order=True)
class StoryRef:
    """What ranking a tray needs of a story: its id (time-ordered) and audience."""

    story_id: int
    audience: int

    @classmethod
    def parse(cls, member: bytes | str) -> StoryRef:
        text = member.decode() if isinstance(member, bytes) else member
        story_id, _, audience = text.partition(".")
        return cls(int(story_id), int(audience or FOLLOWERS))

    @classmethod
    def of(cls, story: StoryRecord) -> StoryRef:
        return cls(story.story_id, story.audience)

    @property
    def create_ms(self) -> int:
        return id_time_ms(self.story_id)


@dataclass(frozen=True)
class Viewer:
    user_id: str
    view_ms: int


@dataclass(frozen=True)
class CloseFriendRecord:
    user_id: str
    add_ms: int
