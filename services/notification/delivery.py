"""From domain events to inboxes: the worker's handlers.

Each handler turns an event into activities (activities.py), drops those about the
recipient's own actions or between users where either blocks the other (the worker's
social view: one Redis read when warm, no graph call), and applies the rest to the
inboxes (inbox.py), which also announces each on the recipient's stream channel. A
handler that raises leaves the event unacknowledged, so it comes back; applying twice
changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.message.v1 import events_pb2 as message_events
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import events_pb2 as story_events
from photomesh.story.v1 import story_service_pb2 as story_pb

from services.notification import activities
from services.notification.inbox import Inbox
from services.notification.model import Activity
from services.peers.social_view import SocialView
from services.runtime.events import Delivery

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(self, inbox: Inbox, view: SocialView, *, stories_to_followers: bool,
                 posts_to_followers: bool, fanout_max_followers: int,
                 concurrency: int) -> None:
        self._inbox = inbox
        self._view = view
        self._stories = stories_to_followers
        self._posts = posts_to_followers
        self._fanout_max = fanout_max_followers
        self._limit = asyncio.Semaphore(concurrency)

    async def deliver(self, found: Sequence[Activity]) -> int:
        """Apply activities (one event's, all by the same actor); returns how many new."""
        wanted = [a for a in found if a.recipient_id and a.actor_id
                  and a.recipient_id != a.actor_id]
        if not wanted:
            return 0
        relations = await self._view.relations(
            wanted[0].actor_id, dict.fromkeys(a.recipient_id for a in wanted))
        wanted = [a for a in wanted if not ((r := relations.get(a.recipient_id)) and r.blocked)]

        async def one(activity: Activity) -> bool:
            async with self._limit:
                return await self._inbox.add(activity) is not None

        return sum(await asyncio.gather(*(one(a) for a in wanted)))

    async def _followers(self, author_id: str) -> list[str]:
        followers = await self._view.graph.follower_ids(author_id, self._fanout_max)
        if followers is None:
            log.info("%s has more than %d followers: no fan-out notification", author_id,
                     self._fanout_max)
            return []
        return followers

    # --- handlers, one per subject ---------------------------------------------------------

    async def on_followed(self, e: graph_events.FollowedEvent, _: Delivery) -> None:
        await self.deliver(activities.followed(e))

    async def on_follow_requested(self, e: graph_events.FollowRequestedEvent, _: Delivery
                                  ) -> None:
        await self.deliver(activities.follow_requested(e))

    async def on_follow_approved(self, e: graph_events.FollowApprovedEvent, _: Delivery
                                 ) -> None:
        await self.deliver(activities.follow_approved(e))

    async def on_post_liked(self, e: post_events.PostLikedEvent, _: Delivery) -> None:
        await self.deliver(activities.post_liked(e))

    async def on_comment_added(self, e: post_events.CommentAddedEvent, _: Delivery) -> None:
        await self.deliver(activities.comment_added(e))

    async def on_post_created(self, e: post_events.PostCreatedEvent, _: Delivery) -> None:
        found = activities.post_created(e)
        if self._posts:
            mentioned = {a.recipient_id for a in found}
            found += [activities.new_post_for(e, f) for f in await self._followers(
                e.author_user_id) if f not in mentioned]
        await self.deliver(found)

    async def on_story_published(self, e: story_events.StoryPublishedEvent, _: Delivery
                                 ) -> None:
        # Close-friends stories notify nobody: their audience lives in the story service.
        if self._stories and e.audience in (story_pb.STORY_AUDIENCE_FOLLOWERS,
                                            story_pb.STORY_AUDIENCE_UNSPECIFIED):
            await self.deliver([activities.new_story_for(e, f)
                                for f in await self._followers(e.author_user_id)])

    async def on_message_sent(self, e: message_events.MessageSentEvent, _: Delivery) -> None:
        await self.deliver(activities.message_sent(e))
