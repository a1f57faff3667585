"""Fan-out: the event handlers of the feed's worker process.

* ``post.created`` — the post joins its author's recent posts; the author's followers are
  read in pages of `follower_page_size` (as the worker itself). The first
  `fanout_inline_batches` pages are written at once by this handler; one `FanoutTask` per
  further page is published on ``feed.fanout`` (message id
  ``fanout:<action>:<post_id>:<batch>``, so a replayed event publishes nothing new) while
  those are being written. An author with more than
  `celebrity_threshold` followers (the first page's ``total_count``) is not fanned out but
  marked a celebrity.
* ``feed.fanout`` — a task writes its batch into the recipients' timelines (CQL rows, then
  the cached timelines of active users, then live notifications). Rows are keyed by post
  id, so a redelivered task writes nothing twice.
* ``post.deleted`` — the post leaves its author's list and, by REMOVE_POST tasks, every
  follower's timeline (reads also skip ids the post service reports missing).
* ``graph.followed`` backfills the followee's recent posts; ``graph.unfollowed`` and
  ``graph.blocked`` purge them (both ways for a block).
* ``post.liked`` / ``post.comment_added`` — the viewer's affinity to the author (ranked
  mode), each event counted once.
* The read model of posts (post_cards.py): ``post.created`` stores the card before the
  post is fanned out, so a timeline never holds an id whose card is not there;
  ``post.deleted`` leaves a tombstone; likes, unlikes, comments and comment deletions move
  the counts and the likers' liked flags.

Every handler returns only when its effect is stored; the consumer acknowledges after that
(services/runtime/events.py), and trace context flows from each event into the tasks it
publishes, so one post's create call, event, batches and writes form one trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp
from photomesh.feed.v1 import events_pb2 as feed_events
from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.post.v1 import events_pb2 as post_events

from services.feed.post_cards import PostCards
from services.feed.settings import FeedSettings
from services.feed.timelines import Timelines
from services.peers.graph import GraphPeer
from services.runtime import metrics
from services.runtime.events import Delivery, EventBus

log = logging.getLogger(__name__)

LIKE_AFFINITY = 1.0
COMMENT_AFFINITY = 2.0
Action = feed_events.FanoutAction


class Fanout:
    def __init__(self, timelines: Timelines, cards: PostCards, graph: GraphPeer, bus: EventBus,
                 settings: FeedSettings) -> None:
        self._timelines = timelines
        self._cards = cards
        self._graph = graph
        self._bus = bus
        self._settings = settings
        self.rows_written = 0

    # --- posts --------------------------------------------------------------------------

    async def on_post_created(self, event: post_events.PostCreatedEvent, _: Delivery) -> None:
        await self._cards.put(event.post)
        await asyncio.gather(
            self._timelines.record_author_post(event.author_user_id, event.post_id),
            self._fan_out(Action.FANOUT_ACTION_INSERT_POST, event.post_id,
                          event.author_user_id, event.create_time))

    async def on_post_deleted(self, event: post_events.PostDeletedEvent, _: Delivery) -> None:
        await self._cards.delete(event.post_id)
        await asyncio.gather(
            self._timelines.forget_author_post(event.author_user_id, event.post_id),
            self._fan_out(Action.FANOUT_ACTION_REMOVE_POST, event.post_id,
                          event.author_user_id, event.event_time))

    async def _fan_out(self, action: int, post_id: int, author_id: str,
                       when: Timestamp) -> None:
        """The first `fanout_inline_batches` pages of followers are written here at once,
        concurrently (no task hop: most authors have fewer followers than that); every
        further page becomes a task, published while those are being written, and tasks run
        concurrently on the workers."""
        size = self._settings.follower_page_size
        page = await self._graph.follower_page(author_id, size)
        if page.total_count > self._settings.celebrity_threshold:
            if action == Action.FANOUT_ACTION_INSERT_POST:
                await self._timelines.mark_celebrity(author_id, post_id)
            return  # merged at read time; a deleted one is skipped at read time
        writes = [asyncio.ensure_future(self._apply(action, post_id, author_id, page.user_ids))]
        try:
            batch = 1
            while page.next_page_token:
                page = await self._graph.follower_page(author_id, size, page.next_page_token)
                if not page.user_ids:
                    continue
                if batch < self._settings.fanout_inline_batches:
                    writes.append(asyncio.ensure_future(
                        self._apply(action, post_id, author_id, page.user_ids)))
                else:
                    await self._publish(action, post_id, author_id, page.user_ids, batch, when)
                batch += 1
        finally:
            await asyncio.gather(*writes)

    async def _publish(self, action: int, post_id: int, author_id: str,
                       recipients: Sequence[str], batch: int, when: Timestamp) -> None:
        task_id = f"fanout:{Action.Name(action)}:{post_id}:{batch}"
        task = feed_events.FanoutTask(task_id=task_id, action=action, author_user_id=author_id,
                                      post_id=post_id, post_create_time=when,
                                      recipient_user_ids=recipients, attempt=1,
                                      event_time=when, batch_index=batch)
        await self._bus.publish("feed", "fanout", task, msg_id=task_id)

    async def _apply(self, action: int, post_id: int, author_id: str,
                     recipients: Sequence[str]) -> None:
        if not recipients:
            return
        if action == Action.FANOUT_ACTION_INSERT_POST:
            rows = await self._timelines.deliver(post_id, author_id, recipients)
            self.rows_written += rows
            metrics.fanout_rows(rows, post_id)
        else:
            await self._timelines.remove(post_id, recipients)

    async def on_task(self, task: feed_events.FanoutTask, _: Delivery) -> None:
        recipients = list(task.recipient_user_ids)
        if task.action in (Action.FANOUT_ACTION_INSERT_POST, Action.FANOUT_ACTION_REMOVE_POST):
            await self._apply(task.action, task.post_id, task.author_user_id, recipients)
        elif task.action == Action.FANOUT_ACTION_BACKFILL_AUTHOR:
            for user_id in recipients:
                await self._timelines.backfill(user_id, task.author_user_id)
        elif task.action == Action.FANOUT_ACTION_PURGE_AUTHOR:
            for user_id in recipients:
                await self._timelines.purge(user_id, task.author_user_id)
        else:
            log.error("fan-out task %s has no action; dropped", task.task_id)

    # --- engagement (ranked mode) -------------------------------------------------------

    async def on_post_liked(self, event: post_events.PostLikedEvent, _: Delivery) -> None:
        await self._cards.count_event(event.event_id, event.post_id, "l", +1,
                                      liker_id=event.liker_user_id, like_id=event.like_id or 1)
        await self._affinity(event.event_id, event.liker_user_id, event.post_author_user_id,
                             LIKE_AFFINITY)

    async def on_post_unliked(self, event: post_events.PostUnlikedEvent, _: Delivery) -> None:
        await self._cards.count_event(event.event_id, event.post_id, "l", -1,
                                      liker_id=event.liker_user_id,
                                      like_id=-(event.like_id or 1))

    async def on_comment_added(self, event: post_events.CommentAddedEvent, _: Delivery
                               ) -> None:
        await self._cards.count_event(event.event_id, event.post_id, "c", +1)
        await self._affinity(event.event_id, event.commenter_user_id,
                             event.post_author_user_id, COMMENT_AFFINITY)

    async def on_comment_deleted(self, event: post_events.CommentDeletedEvent, _: Delivery
                                 ) -> None:
        await self._cards.count_event(event.event_id, event.post_id, "c",
                                      -max(1, event.removed_comment_count))

    async def _affinity(self, event_id: str, viewer: str, author: str, weight: float) -> None:
        if viewer and author and viewer != author:
            await self._timelines.add_affinity(
                event_id, viewer, author, weight, self._settings.affinity_ttl_days * 86400)

    # --- the social graph ---------------------------------------------------------------

    async def on_followed(self, event: graph_events.FollowedEvent, _: Delivery) -> None:
        follower, followee = event.follower_user_id, event.followee_user_id
        await self._timelines.forget_followed_celebrities(follower)
        celebrities, _version = await self._timelines.celebrities()
        if followee not in celebrities:  # a celebrity's posts are merged at read time
            await self._timelines.backfill(follower, followee)

    async def on_unfollowed(self, event: graph_events.UnfollowedEvent, _: Delivery) -> None:
        await self._timelines.purge(event.follower_user_id, event.followee_user_id)

    async def on_blocked(self, event: graph_events.BlockedEvent, _: Delivery) -> None:
        await self._timelines.purge(event.blocker_user_id, event.blocked_user_id)
        await self._timelines.purge(event.blocked_user_id, event.blocker_user_id)
