"""Reading notifications: ListNotifications pages and the StreamNotifications pushes, as
serialized responses.

Four stages, as every read endpoint of the mesh: *skeleton* — the page's entries, from the
user's cached inbox (cache.py; a cold one is refilled from the CQL store first), continued
in the CQL store when the page runs past the cached entries; *hydration* — the reader's
relations to the actors and their summaries, from the service's social view (read in the
same Redis script as the entries when warm; services/peers/social_view.py); *rules* — an
actor who blocks the reader or is blocked by them is dropped from the notification (and
from its count), and a notification with no actor left is not shown; *presentation* —
each notification is its stored body plus the actors' summaries, the count and the read
flag, as bytes (messages.py).

Staleness: entries are as the worker last wrote them (after its CQL write, so
milliseconds behind the event); actor names and avatars follow ProfileUpdatedEvent and
blocks follow BlockedEvent once the view's consumer has handled them (milliseconds; at
most `social_view_ttl_seconds` should an event be lost); the read watermark is exact (a
MarkNotificationsRead raises the cached one after the CQL write, before it answers).

Pages are cut by the position of the last entry returned (a sealed page token), so
notifications that arrive meanwhile never shift a later page; an unread-only listing
keeps the first page's watermark as its lower bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.common.v1.user_pb2 import UserSummary
from redis.exceptions import RedisError

from services.notification import messages
from services.notification.cache import WATERMARK, CachedPage, Stored, decode, encode
from services.notification.inbox import Inbox
from services.notification.model import read
from services.peers.social_view import SocialView
from services.runtime import metrics
from services.runtime.pagination import PageTokens, page_size

SCOPE = "notification.ListNotifications/v2"


@dataclass(frozen=True)
class Skeleton:
    """A page's entries (newest first), the current watermark, whether more follow, and
    what the cache read brought of the reader's relations and the actors' summaries."""

    entries: list[Stored]
    watermark: int
    more: bool
    cached: CachedPage | None


@dataclass(frozen=True)
class Hydrated:
    """Of a page's actors: those hidden from the reader, and each one's serialized
    summary (the id alone for a user the graph no longer knows)."""

    hidden: frozenset[str]
    summaries: dict[str, bytes]


class Listing:
    def __init__(self, inbox: Inbox, view: SocialView, tokens: PageTokens) -> None:
        self._inbox = inbox
        self._view = view
        self._tokens = tokens

    # --- ListNotifications --------------------------------------------------------------

    async def page(self, user_id: str, unread_only: bool, requested_size: int, token: str
                   ) -> bytes:
        """A serialized ListNotificationsResponse."""
        size = page_size(requested_size)
        scope = f"{SCOPE}/unread={int(unread_only)}"
        cursor = self._tokens.open(token, scope=scope, viewer=user_id)
        below = cursor.last_id if cursor else None
        floor = (cursor.floor_id if cursor else WATERMARK) if unread_only else None
        skeleton = await self._skeleton(user_id, below, floor, size)
        hydrated = await self._hydrate(user_id, skeleton.entries, skeleton.cached)
        shown = [n for n in (self._present(e, hydrated, skeleton.watermark)
                             for e in skeleton.entries) if n is not None]
        next_token = ""
        if skeleton.more and skeleton.entries:
            next_token = self._tokens.seal(PageTokenPayload(
                last_id=skeleton.entries[-1].sort_id,
                floor_id=skeleton.watermark if floor == WATERMARK else (floor or 0)),
                scope=scope, viewer=user_id)
        return messages.list_response(shown, next_token)

    async def _skeleton(self, user_id: str, below: int | None, floor: int | str | None,
                        size: int) -> Skeleton:
        try:
            cached = await self._cached(user_id, below, floor, size + 1)
        except RedisError:
            cached = None
        metrics.cache_lookups("notification_inbox", int(cached is not None),
                              int(cached is None))
        if cached is None:  # Redis unavailable: the CQL store alone
            watermark = await self._inbox.store.read_mark(user_id)
            above = watermark if floor == WATERMARK else (floor or 0)
            found = await self._inbox.store.page(user_id, below, int(above), size + 1)
            return Skeleton([decode(encode(e)) for e in found[:size]], watermark,
                            len(found) > size, None)
        entries = cached.entries
        above = cached.watermark if floor == WATERMARK else floor
        if len(entries) <= size and not self._covers(cached, above):
            start = below if cached.lowest is None or (below is not None and
                                                      below < cached.lowest) \
                else cached.lowest
            found = await self._inbox.store.page(user_id, start, int(above or 0),
                                                 size + 1 - len(entries))
            entries = entries + [decode(encode(e)) for e in found]
        return Skeleton(entries[:size], cached.watermark, len(entries) > size, cached)

    async def _cached(self, user_id: str, below: int | None, floor: int | str | None,
                      limit: int) -> CachedPage | None:
        args = (below, floor, limit, self._view.script_args(user_id))
        found = await self._inbox.cache.page(user_id, *args)
        if found is None:
            await self._inbox.refill(user_id)
            found = await self._inbox.cache.page(user_id, *args)
        return found

    @staticmethod
    def _covers(cached: CachedPage, above: int | str | None) -> bool:
        """Whether the cache holds every entry of the store above `above`."""
        if cached.complete:
            return True
        return isinstance(above, int) and cached.lowest is not None and \
            cached.lowest <= above

    # --- hydration, rules, presentation -------------------------------------------------

    async def _hydrate(self, viewer_id: str, entries: Sequence[Stored],
                       cached: CachedPage | None) -> Hydrated:
        actors = list(dict.fromkeys(a for e in entries for a in e.actor_ids))
        if not actors:
            return Hydrated(frozenset(), {})
        hidden: set[str] = set()
        summaries: dict[str, UserSummary] = {}
        raw = set(cached.view.authors) if cached is not None else set()
        if cached is not None and cached.view.authors:
            relations, summaries = await self._view.resolve(viewer_id, cached.view)
            hidden.update(a for a, r in relations.items() if r.blocked)
        rest = [a for a in actors if a not in raw]
        if rest:
            audience = await self._view.audience(viewer_id, rest)
            hidden.update(audience.blocked)
            summaries.update(audience.summaries)
        return Hydrated(frozenset(hidden), {
            a: summaries[a].SerializeToString() if a in summaries else messages.bare_summary(a)
            for a in actors})

    @staticmethod
    def _present(entry: Stored, hydrated: Hydrated, watermark: int) -> bytes | None:
        """The serialized notification as the reader may see it; None when every actor
        shown is hidden from the reader."""
        visible = [a for a in entry.actor_ids if a not in hydrated.hidden]
        if not visible:
            return None
        return messages.notification(
            entry.body, [hydrated.summaries[a] for a in visible],
            entry.actor_count - (len(entry.actor_ids) - len(visible)),
            read(entry.sort_id, watermark))

    # --- StreamNotifications ------------------------------------------------------------

    async def pushed(self, user_id: str, payload: bytes) -> bytes | None:
        """The serialized StreamNotificationsResponse of a worker's push (None: its actor
        is now hidden from the reader)."""
        count, _, member = payload.partition(b"|")
        entry = decode(member)
        hydrated = await self._hydrate(user_id, [entry], None)
        shown = self._present(entry, hydrated, 0)
        if shown is None:
            return None
        unread = int(count) if count else await self._inbox.unread_count(user_id)
        return messages.stream_response(shown, unread)
