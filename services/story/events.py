"""Story events on NATS JetStream (stream STORY)."""

from __future__ import annotations

import uuid

from photomesh.story.v1 import events_pb2

from services.runtime.events import EventBus
from services.story.model import StoryRecord

DOMAIN = "story"
_EVENT_NAMESPACE = uuid.UUID("5f0d0c5e-7a8b-4c1e-9f3a-2b6d8e4a1c70")


def published_event_id(story_id: int) -> str:
    """The same id for every publish of one story, so retries are de-duplicated."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"story.published/{story_id}"))


class StoryEvents:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def published(self, story: StoryRecord) -> None:
        event_id = published_event_id(story.story_id)
        event = events_pb2.StoryPublishedEvent(
            event_id=event_id, story_id=story.story_id, author_user_id=story.author_id,
            audience=story.audience,  # type: ignore[arg-type]
            media_id=story.media.media_id if story.media is not None else "")
        if story.media is not None:
            event.media.CopyFrom(story.media)
        event.event_time.FromMilliseconds(story.create_ms)
        event.create_time.FromMilliseconds(story.create_ms)
        event.expire_time.FromMilliseconds(story.expire_ms)
        await self._bus.publish(DOMAIN, "published", event, msg_id=event_id)
