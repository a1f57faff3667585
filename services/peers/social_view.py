"""A service's own copy of what it reads of the social graph on hot paths, kept in Redis:
relations between two users, user summaries, and whom a user follows. A warm read asks no
peer; a miss is filled from the graph.

Two things keep it right (services/peers/epochs.py has the contract):

* **Epochs** — the graph bumps a user's epoch synchronously after every relation or
  profile change that involves them, before it answers. Each cached answer carries the
  epoch it was read at and is used only while that is still the user's epoch, checked in
  the same round trip as the answer itself: a read made after a change returned sees the
  change (a block applies at once; an approved follower sees the posts at once).
* **Events** — the graph's events invalidate ahead of reads (durable consumers
  ``<service>_view_<event>``), and bump the key's version ``~v``: a fill writes only if
  the version it read before asking the graph is still there.

Layout, under the service's key space (``<prefix><service>:sv:``): ``r:<user>`` — a hash
per user of their relations to others (the `Relation` code then the fill time, per other
user), valid for the user's epoch ``~e``; ``s:<user>`` — ``d`` the serialized UserSummary,
``t`` fill time, ``e`` epoch; ``f:<user>`` — ``d`` the followed ids comma-joined, ``t``,
``e``. Entries also age out after `ttl_seconds` (read as missing), which bounds anything
both signals could miss. While Redis is unreachable every read asks the graph.

Scripts of a service that read the view in the same round trip as their own data embed
`LUA_VIEW_READS` and pass `script_args(viewer)`; `parse_reads` and `resolve` finish the
job, so the layout is known only here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import events_pb2 as graph_events
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.peers.audience import Audience, Relation, audience_of
from services.peers.epochs import Epochs
from services.peers.graph import GraphPeer
from services.runtime import metrics
from services.runtime.cache import KeySpace
from services.runtime.events import Consumer, Delivery, EventBus
from services.runtime.settings import RedisSettings

log = logging.getLogger(__name__)

VERSION = b"~v"
EPOCH = b"~e"
SUMMARY_FIELDS = [b"d", b"t", b"e", VERSION]

#: Lua: `view_reads(rel_key, summary_prefix, epoch_prefix, viewer, authors, out)` appends
#: the viewer's epoch, the relation hash's version and epoch, then per author: the id, the
#: relation code, the summary's d, t, e, ~v and the author's epoch. Scripts include it.
LUA_VIEW_READS = """
local function view_reads(rel, sprefix, eprefix, viewer, authors, out)
  out[#out + 1] = redis.call('GET', eprefix .. viewer) or '0'
  local h = redis.call('HMGET', rel, '~v', '~e')
  out[#out + 1] = h[1]
  out[#out + 1] = h[2]
  for _, a in ipairs(authors) do
    local s = redis.call('HMGET', sprefix .. a, 'd', 't', 'e', '~v')
    out[#out + 1] = a
    out[#out + 1] = redis.call('HGET', rel, a)
    out[#out + 1] = s[1]
    out[#out + 1] = s[2]
    out[#out + 1] = s[3]
    out[#out + 1] = s[4]
    out[#out + 1] = redis.call('GET', eprefix .. a) or '0'
  end
end
"""
_PER_AUTHOR = 7

# KEYS[1] relation hash; ARGV: version seen ('' none), epoch seen, ttl, field/value pairs.
# Entries of an older epoch are dropped; a fill read at an older epoch than the hash's is
# not stored.
_FILL_RELATIONS = """
local v = redis.call('HGET', KEYS[1], '~v') or ''
if v ~= ARGV[1] then return 0 end
local e = redis.call('HGET', KEYS[1], '~e')
if e ~= ARGV[2] then
  if e and tonumber(e) > tonumber(ARGV[2]) then return 0 end
  redis.call('DEL', KEYS[1])
  if v ~= '' then redis.call('HSET', KEYS[1], '~v', v) end
  redis.call('HSET', KEYS[1], '~e', ARGV[2])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] hash; ARGV[1] version seen ('' when none), ARGV[2] ttl, ARGV[3..] field/value pairs.
_FILL = """
local v = redis.call('HGET', KEYS[1], '~v') or ''
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

RawSummary = tuple[bytes | None, bytes | None, bytes | None, bytes | None]  # d, t, e, ~v


@dataclass(frozen=True)
class ViewReads:
    """What one round trip read of the view for a viewer and some authors."""

    viewer_epoch: bytes
    version: bytes | None
    hash_epoch: bytes | None
    authors: list[str]
    codes: list[bytes | None]
    summaries: list[RawSummary]
    author_epochs: list[bytes]


def _version(raw: bytes | None) -> bytes:
    return raw or b""


class SocialView:
    def __init__(self, redis: Redis, keys: KeySpace, graph: GraphPeer, epochs: Epochs, *,
                 ttl_seconds: int = 3600, following_cap: int = 20_000) -> None:
        self._redis = redis
        self._keys = keys
        self.graph = graph
        self._epochs = epochs
        self._ttl = ttl_seconds
        self._following_cap = following_cap
        self._fill_relations = redis.register_script(_FILL_RELATIONS)
        self._fill = redis.register_script(_FILL)

    # --- keys ---------------------------------------------------------------------------

    def relation_key(self, user_id: str) -> str:
        return self._keys.key("sv", "r", user_id)

    def summary_key(self, user_id: str) -> str:
        return self._keys.key("sv", "s", user_id)

    def following_key(self, user_id: str) -> str:
        return self._keys.key("sv", "f", user_id)

    def script_args(self, viewer_id: str) -> list[str]:
        """The four arguments a script passes to `view_reads` (then the authors)."""
        return [self.relation_key(viewer_id), self._keys.key("sv", "s", ""),
                self._epochs.prefix, viewer_id]

    def _fresh(self, filled_at: bytes | None, now: float) -> bool:
        return filled_at is not None and now - float(filled_at) < self._ttl

    # --- reading in one round trip ------------------------------------------------------

    @staticmethod
    def parse_reads(raw: Sequence[bytes | None]) -> ViewReads:
        """The values `view_reads` appended (a script's reply from that point on)."""
        head, tail = raw[:3], raw[3:]
        rows = [tail[i:i + _PER_AUTHOR] for i in range(0, len(tail), _PER_AUTHOR)]
        return ViewReads(head[0] or b"0", head[1], head[2],
                         [r[0].decode() for r in rows],  # type: ignore[union-attr]
                         [r[1] for r in rows],
                         [(r[2], r[3], r[4], r[5]) for r in rows],
                         [r[6] or b"0" for r in rows])

    async def _read(self, viewer_id: str, authors: Sequence[str]) -> ViewReads:
        """The same reads as `view_reads`, as one pipeline."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._epochs.key(viewer_id))
            pipe.hmget(self.relation_key(viewer_id), [VERSION, EPOCH, *authors])
            for author in authors:
                pipe.hmget(self.summary_key(author), SUMMARY_FIELDS)
            pipe.mget([self._epochs.key(a) for a in authors] or ["-"])
            replies = await pipe.execute()
        viewer_epoch, rel = replies[0], replies[1]
        summaries, epochs = replies[2:2 + len(authors)], replies[-1]
        return ViewReads(viewer_epoch or b"0", rel[0], rel[1], list(authors), rel[2:],
                         [tuple(s) for s in summaries],  # type: ignore[misc]
                         [e or b"0" for e in epochs[:len(authors)]])

    async def resolve(self, viewer_id: str, reads: ViewReads, *, with_summaries: bool = True
                      ) -> tuple[dict[str, Relation], dict[str, UserSummary]]:
        """The viewer's relations to and the summaries of `reads.authors` (the viewer's
        own relation left out): what is cached and current, the rest asked of the graph
        and kept."""
        now = time.time()
        current = reads.hash_epoch == reads.viewer_epoch
        relations: dict[str, Relation] = {}
        summaries: dict[str, UserSummary] = {}
        rel_missing: list[str] = []
        sum_missing: dict[str, tuple[bytes, bytes]] = {}
        for author, code, (data, filled_at, epoch, version), author_epoch in zip(
                reads.authors, reads.codes, reads.summaries, reads.author_epochs,
                strict=True):
            if author != viewer_id:
                if current and code is not None and self._fresh(code[3:], now):
                    relations[author] = Relation.decode(code)
                else:
                    rel_missing.append(author)
            if not with_summaries:
                continue
            if data is not None and epoch == author_epoch and self._fresh(filled_at, now):
                summaries[author] = UserSummary.FromString(data)
            else:
                sum_missing[author] = (_version(version), author_epoch)
        metrics.cache_lookups("social_view_relations", len(relations), len(rel_missing))
        metrics.cache_lookups("social_view_summaries", len(summaries), len(sum_missing))
        loaded_rel, loaded_sum = await asyncio.gather(
            self._load_relations(viewer_id, rel_missing, reads, now),
            self._load_summaries(sum_missing, now))
        relations.update(loaded_rel)
        summaries.update(loaded_sum)
        return relations, summaries

    async def _load_relations(self, viewer_id: str, targets: list[str], reads: ViewReads,
                              now: float) -> dict[str, Relation]:
        if not targets:
            return {}
        loaded = await self.graph.relations(viewer_id, targets)
        stamp = b"%d" % int(now)
        pairs: list[bytes | str] = []
        for target, relation in loaded.items():
            pairs += [target, relation.encode() + stamp]
        if pairs:
            try:
                await self._fill_relations(keys=[self.relation_key(viewer_id)], args=[
                    _version(reads.version), reads.viewer_epoch, self._ttl, *pairs])
            except RedisError as exc:
                log.warning("social view: could not keep relations: %r", exc)
        return loaded

    async def _load_summaries(self, wanted: dict[str, tuple[bytes, bytes]], now: float
                              ) -> dict[str, UserSummary]:
        if not wanted:
            return {}
        loaded = await self.graph.summaries(wanted)
        stamp = b"%d" % int(now)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id, summary in loaded.items():
                    version, epoch = wanted[user_id]
                    await self._fill(keys=[self.summary_key(user_id)], args=[
                        version, self._ttl, b"d", summary.SerializeToString(), b"t", stamp,
                        b"e", epoch], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            log.warning("social view: could not keep summaries: %r", exc)
        return loaded

    # --- reads for Python callers -------------------------------------------------------

    async def audience(self, viewer_id: str, author_ids: Iterable[str]) -> Audience:
        """Who among `author_ids` `viewer_id` may see, with their summaries: one Redis
        round trip when warm."""
        authors = list(dict.fromkeys(author_ids))
        if not authors:
            return Audience()
        relations, summaries = await self._both(viewer_id, authors)
        return audience_of(viewer_id, summaries, relations)

    async def relations(self, viewer_id: str, targets: Iterable[str]) -> dict[str, Relation]:
        """`viewer_id`'s relation to each of `targets` (the viewer excluded)."""
        ids = [t for t in dict.fromkeys(targets) if t != viewer_id]
        return (await self._both(viewer_id, ids, with_summaries=False))[0] if ids else {}

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, UserSummary]:
        """Summaries of the known users among `user_ids`."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in ids:
                    pipe.hmget(self.summary_key(user_id), SUMMARY_FIELDS)
                pipe.mget([self._epochs.key(u) for u in ids])
                replies = await pipe.execute()
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            return await self.graph.summaries(ids)
        now = time.time()
        found: dict[str, UserSummary] = {}
        missing: dict[str, tuple[bytes, bytes]] = {}
        for user_id, (data, filled_at, epoch, version), current in zip(
                ids, replies[:-1], replies[-1], strict=True):
            if data is not None and epoch == (current or b"0") and self._fresh(filled_at, now):
                found[user_id] = UserSummary.FromString(data)
            else:
                missing[user_id] = (_version(version), current or b"0")
        metrics.cache_lookups("social_view_summaries", len(found), len(missing))
        found.update(await self._load_summaries(missing, now))
        return found

    async def _both(self, viewer_id: str, authors: list[str], *, with_summaries: bool = True
                    ) -> tuple[dict[str, Relation], dict[str, UserSummary]]:
        try:
            reads = await self._read(viewer_id, authors)
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            if not with_summaries:
                return await self.graph.relations(viewer_id, authors), {}
            relations, summaries = await asyncio.gather(
                self.graph.relations(viewer_id, authors), self.graph.summaries(authors))
            return relations, summaries
        return await self.resolve(viewer_id, reads, with_summaries=with_summaries)

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """Up to `limit` ids of the users `user_id` follows."""
        key = self.following_key(user_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(key, [b"d", b"t", b"e", VERSION])
                pipe.get(self._epochs.key(user_id))
                (data, filled_at, epoch, version), current = await pipe.execute()
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            return await self.graph.following_ids(user_id, limit)
        now = time.time()
        current = current or b"0"
        if data is not None and epoch == current and self._fresh(filled_at, now):
            return (data.decode().split(",") if data else [])[:limit]
        ids = await self.graph.following_ids(user_id, self._following_cap)
        try:
            await self._fill(keys=[key], args=[_version(version), self._ttl, b"d",
                                               ",".join(ids), b"t", b"%d" % int(now),
                                               b"e", current])
        except RedisError as exc:
            log.warning("social view: could not keep following ids: %r", exc)
        return ids[:limit]

    # --- invalidation by graph events ---------------------------------------------------

    async def invalidate(self, *, relations: Sequence[tuple[str, str]] = (),
                         summaries: Sequence[str] = (), following: Sequence[str] = ()
                         ) -> None:
        """Drop what a change made stale and bump the versions (fills in flight lose)."""
        entries = ([(self.relation_key(a), b) for a, b in relations]
                   + [(self.summary_key(u), "d") for u in summaries]
                   + [(self.following_key(u), "d") for u in following])
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, field in entries:
                pipe.hdel(key, field)
                pipe.hincrby(key, VERSION, 1)
                pipe.expire(key, self._ttl)
            await pipe.execute()

    async def on_followed(self, e: graph_events.FollowedEvent, _: Delivery) -> None:
        await self._follow_changed(e.follower_user_id, e.followee_user_id)

    async def on_unfollowed(self, e: graph_events.UnfollowedEvent, _: Delivery) -> None:
        await self._follow_changed(e.follower_user_id, e.followee_user_id)

    async def _follow_changed(self, follower: str, followee: str) -> None:
        await self.invalidate(relations=[(follower, followee), (followee, follower)],
                              following=[follower])

    async def on_blocked(self, e: graph_events.BlockedEvent, _: Delivery) -> None:
        a, b = e.blocker_user_id, e.blocked_user_id
        await self.invalidate(relations=[(a, b), (b, a)], following=[a, b])

    async def on_unblocked(self, e: graph_events.UnblockedEvent, _: Delivery) -> None:
        a, b = e.blocker_user_id, e.blocked_user_id
        await self.invalidate(relations=[(a, b), (b, a)])

    async def on_profile_updated(self, e: graph_events.ProfileUpdatedEvent, _: Delivery
                                 ) -> None:
        await self.invalidate(summaries=[e.user_id])

    def consumers(self, bus: EventBus, owner: str, concurrency: int = 8) -> list[Consumer]:
        """The durable consumers keeping this view (`owner` names them: one per service,
        shared by its processes)."""
        handlers: list[tuple[str, type, Callable[..., Awaitable[None]]]] = [
            ("followed", graph_events.FollowedEvent, self.on_followed),
            ("unfollowed", graph_events.UnfollowedEvent, self.on_unfollowed),
            ("blocked", graph_events.BlockedEvent, self.on_blocked),
            ("unblocked", graph_events.UnblockedEvent, self.on_unblocked),
            ("profile_updated", graph_events.ProfileUpdatedEvent, self.on_profile_updated),
        ]
        return [Consumer(bus, domain="graph", durable=f"{owner}_view_{event}", events=[event],
                         message_type=message_type, handler=handler, concurrency=concurrency)
                for event, message_type, handler in handlers]


def social_view(redis: Redis, settings: RedisSettings, owner: str, graph: GraphPeer, *,
                ttl_seconds: int = 3600) -> SocialView:
    """The social view of service `owner` (its own key space), reading the graph's
    epochs."""
    return SocialView(redis, KeySpace(settings, owner), graph,
                      Epochs(redis, KeySpace(settings, "graph")), ttl_seconds=ttl_seconds)
