"""A service's own copy of what it reads of the social graph on hot paths, kept in Redis
and invalidated by the graph's events: relations between two users, user summaries, and
whom a user follows. A warm read asks no peer; a miss is filled from the graph.

Layout (under the service's key space, ``<prefix><service>:sv:``): one hash per subject —
``r:<user>`` (field per other user: the `Relation` code and the time it was filled),
``s:<user>`` (``d`` the serialized UserSummary, ``t`` fill time) and ``f:<user>`` (``d``
the followed ids, comma-joined, ``t``). Each hash also holds ``~v``, a version that every
invalidation bumps; a fill writes only if the version it read before asking the graph is
still there, so an answer the graph gave before a change can never be stored after the
change's event removed the old one.

Staleness: a change is visible once its event is handled (the graph publishes after its
commit; the consumer invalidates within milliseconds). Entries also age out after
`ttl_seconds` (read as missing, refilled), which bounds what a lost event could leave.
While Redis is unreachable every read asks the graph (nothing is cached meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import events_pb2 as graph_events
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.peers.audience import Audience, Relation, audience_of
from services.peers.graph import GraphPeer
from services.runtime.cache import KeySpace
from services.runtime.events import Consumer, Delivery, EventBus

log = logging.getLogger(__name__)

VERSION = b"~v"

# KEYS[1] hash; ARGV[1] version seen ('' when none), ARGV[2] ttl, ARGV[3..] field/value pairs.
_FILL = """
local v = redis.call('HGET', KEYS[1], '~v') or ''
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def _version(raw: bytes | None) -> bytes:
    return raw or b""


class SocialView:
    def __init__(self, redis: Redis, keys: KeySpace, graph: GraphPeer, *,
                 ttl_seconds: int = 3600, following_cap: int = 20_000) -> None:
        self._redis = redis
        self._keys = keys
        self.graph = graph
        self._ttl = ttl_seconds
        self._following_cap = following_cap
        self._fill = redis.register_script(_FILL)

    # --- keys (read model scripts of a service may read them directly) ------------------

    def relation_key(self, user_id: str) -> str:
        return self._keys.key("sv", "r", user_id)

    def summary_key(self, user_id: str) -> str:
        return self._keys.key("sv", "s", user_id)

    def following_key(self, user_id: str) -> str:
        return self._keys.key("sv", "f", user_id)

    @property
    def summary_prefix(self) -> str:
        return self._keys.key("sv", "s", "")

    def _fresh(self, filled_at: bytes | None, now: float) -> bool:
        return filled_at is not None and now - float(filled_at) < self._ttl

    # --- relations ----------------------------------------------------------------------

    def decode_relation(self, raw: bytes | None, now: float) -> Relation | None:
        """A stored relation code (`Relation.encode` + fill time), if still fresh."""
        if raw is None or not self._fresh(raw[3:], now):
            return None
        return Relation.decode(raw)

    async def relations(self, viewer_id: str, targets: Iterable[str]) -> dict[str, Relation]:
        """`viewer_id`'s relation to each of `targets` (the viewer excluded)."""
        ids = [t for t in dict.fromkeys(targets) if t != viewer_id]
        if not ids:
            return {}
        try:
            raw = await self._redis.hmget(self.relation_key(viewer_id), [VERSION, *ids])
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            return await self.graph.relations(viewer_id, ids)
        return await self.complete_relations(viewer_id, ids, raw[1:], raw[0])

    async def complete_relations(self, viewer_id: str, ids: Sequence[str],
                                 raw: Sequence[bytes | None], version: bytes | None
                                 ) -> dict[str, Relation]:
        """Relations from stored codes `raw` (one per id), missing ones asked of the graph
        and stored unless invalidated since `version` was read."""
        now = time.time()
        found: dict[str, Relation] = {}
        missing: list[str] = []
        for target, code in zip(ids, raw, strict=True):
            relation = self.decode_relation(code, now)
            if relation is None:
                missing.append(target)
            else:
                found[target] = relation
        if missing:
            loaded = await self.graph.relations(viewer_id, missing)
            stamp = b"%d" % int(now)
            pairs: list[bytes | str] = []
            for target, relation in loaded.items():
                pairs += [target, relation.encode() + stamp]
            if pairs:
                try:
                    await self._fill(keys=[self.relation_key(viewer_id)],
                                     args=[_version(version), self._ttl, *pairs])
                except RedisError as exc:
                    log.warning("social view: could not keep relations: %r", exc)
            found.update(loaded)
        return found

    # --- summaries ----------------------------------------------------------------------

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, UserSummary]:
        """Summaries of the known users among `user_ids`."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in ids:
                    pipe.hmget(self.summary_key(user_id), [b"d", b"t", VERSION])
                raw = await pipe.execute()
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            return await self.graph.summaries(ids)
        return await self.complete_summaries(ids, raw)

    async def complete_summaries(self, ids: Sequence[str],
                                 raw: Sequence[Sequence[bytes | None]]
                                 ) -> dict[str, UserSummary]:
        """Summaries from stored ``(d, t, ~v)`` triples (one per id); missing ones asked
        of the graph and stored unless invalidated since they were read."""
        now = time.time()
        found: dict[str, UserSummary] = {}
        versions: dict[str, bytes] = {}
        for user_id, (data, filled_at, version) in zip(ids, raw, strict=True):
            if data is not None and self._fresh(filled_at, now):
                found[user_id] = UserSummary.FromString(data)
            else:
                versions[user_id] = _version(version)
        if versions:
            loaded = await self.graph.summaries(versions)
            stamp = b"%d" % int(now)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for user_id, summary in loaded.items():
                        await self._fill(keys=[self.summary_key(user_id)],
                                         args=[versions[user_id], self._ttl, b"d",
                                               summary.SerializeToString(), b"t", stamp],
                                         client=pipe)
                    await pipe.execute()
            except RedisError as exc:
                log.warning("social view: could not keep summaries: %r", exc)
            found.update(loaded)
        return found

    # --- both ---------------------------------------------------------------------------

    async def audience(self, viewer_id: str, author_ids: Iterable[str]) -> Audience:
        """Who among `author_ids` `viewer_id` may see, with their summaries: one Redis
        round trip when warm."""
        authors = list(dict.fromkeys(author_ids))
        if not authors:
            return Audience()
        others = [a for a in authors if a != viewer_id]
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self.relation_key(viewer_id), [VERSION, *others])
                for user_id in authors:
                    pipe.hmget(self.summary_key(user_id), [b"d", b"t", VERSION])
                replies = await pipe.execute()
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            summaries, relations = await asyncio.gather(
                self.graph.summaries(authors), self.graph.relations(viewer_id, others))
            return audience_of(viewer_id, summaries, relations)
        rel_raw, sum_raw = replies[0], replies[1:]
        relations, summaries = await asyncio.gather(
            self.complete_relations(viewer_id, others, rel_raw[1:], rel_raw[0]),
            self.complete_summaries(authors, sum_raw))
        return audience_of(viewer_id, summaries, relations)

    # --- following ----------------------------------------------------------------------

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """Up to `limit` ids of the users `user_id` follows."""
        key = self.following_key(user_id)
        try:
            data, filled_at, version = await self._redis.hmget(key, [b"d", b"t", VERSION])
        except RedisError as exc:
            log.warning("social view: Redis unavailable, asking the graph: %r", exc)
            return await self.graph.following_ids(user_id, limit)
        now = time.time()
        if data is not None and self._fresh(filled_at, now):
            ids = data.decode().split(",") if data else []
            return ids[:limit]
        ids = await self.graph.following_ids(user_id, self._following_cap)
        try:
            await self._fill(keys=[key], args=[_version(version), self._ttl, b"d",
                                               ",".join(ids), b"t", b"%d" % int(now)])
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
