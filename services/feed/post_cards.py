"""The feed's read model of posts, in Redis: what a home-feed page needs besides the ids,
kept current by the post service's events and read in one round trip.

Keys (feed key space):

* ``card:<post>`` — the author's id (36 characters) then the post's card: the serialized
  `Post` without author, counts or ``liked_by_caller`` (PostCreatedEvent.post). A deleted
  post's card is the tombstone ``-``. Cards expire with the post's timeline rows.
* ``cnt:<post>`` — a hash ``l`` (likes) and ``c`` (comments). Made 0/0 from the
  PostCreatedEvent and moved by each like, unlike, comment and comment deletion event
  exactly once (an event id is applied once: ``ev:<event id>``), so it is exact while it
  lives. A count filled from the post service for a card that was missing (older than
  the read model, or expired) lives only `cold_ttl_seconds`: an event in flight during
  such a fill may be counted twice or not at all until then.
* ``lk:<viewer>`` — the viewer's likes: post id → the like's id (liked) or its negation
  (unliked, a later like wins over an earlier unlike by id order), and ``_s``, the time
  (ms) since which the hash holds every like of the viewer. A post made after ``_s`` and
  absent from the hash is not liked; about older ones the post service is asked once
  (BatchGetLikeStatus) and the answer kept. The hash lives `liked_ttl_seconds` after the
  last read.

Relations and author summaries are the feed's social view (services/peers); the one
visibility rule is applied to every item before it is served.

Staleness: counts and ``liked_by_caller`` follow their events (milliseconds behind the
write); names and avatars follow ProfileUpdatedEvent; blocks, unfollows and private
switches apply as soon as their event is handled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.post.v1 import post_service_pb2 as post_pb
from redis.asyncio import Redis

from services.feed import wire
from services.peers.audience import may_see
from services.peers.social_view import LUA_VIEW_READS, SocialView
from services.runtime.cache import KeySpace
from services.runtime.ids import id_time_ms

TOMBSTONE = b"-"
AUTHOR_LEN = 36
SINCE = b"_s"
EVENT_TTL_SECONDS = 86_400
# A likes hash claims every like made after its start; the start is set this far ahead of
# the clock, so a like whose event is on its way while the hash is made (and a post whose
# id comes from a clock slightly ahead) is asked of the post service instead.
SINCE_MARGIN_MS = 2_000

# ARGV: card prefix, count prefix, liked hash, liked ttl, the view's 4 script arguments,
# post ids... Returns since, then per post (card, likes, comments, liked), then the social
# view's reads of the viewer and the posts' authors (services/peers/social_view.py).
_HYDRATE = LUA_VIEW_READS + """
local lk = ARGV[3]
local out = {redis.call('HGET', lk, '_s')}
redis.call('EXPIRE', lk, ARGV[4])
local authors, seen = {}, {}
for i = 9, #ARGV do
  local id = ARGV[i]
  local card = redis.call('GET', ARGV[1] .. id)
  local n = redis.call('HMGET', ARGV[2] .. id, 'l', 'c')
  out[#out + 1] = card
  out[#out + 1] = n[1]
  out[#out + 1] = n[2]
  out[#out + 1] = redis.call('HGET', lk, id)
  if card and card ~= '-' then
    local a = string.sub(card, 1, 36)
    if not seen[a] then seen[a] = true; authors[#authors + 1] = a end
  end
end
view_reads(ARGV[5], ARGV[6], ARGV[7], ARGV[8], authors, out)
return out
"""

# KEYS[1] event marker, KEYS[2] count hash, KEYS[3] liker's liked hash (or the count hash
# again when no liker); ARGV: count field, delta, event ttl, post id, signed like id ('' if
# none). Counts move once per event; the liked flag keeps the value of the newest like id.
_APPLY = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) and
   redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
end
if ARGV[5] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  local old = redis.call('HGET', KEYS[3], ARGV[4]) or '0'
  local new = ARGV[5]
  local function mag(s) if string.sub(s, 1, 1) == '-' then return string.sub(s, 2) end return s end
  local a, b = mag(new), mag(old)
  if #a > #b or (#a == #b and a >= b) then redis.call('HSET', KEYS[3], ARGV[4], new) end
end
return 1
"""


@dataclass(frozen=True)
class Shown:
    """One post as the viewer sees it: its serialized `Post`, and what ranking reads."""

    post_id: int
    author_id: str
    likes: int
    comments: int
    body: bytes


@dataclass
class Hydrated:
    shown: dict[int, Shown]
    hidden: list[int]  # deleted, or not visible to the viewer: dropped from the timeline
    cold: list[int]  # no card (or counts) here: ask the post service
    like_unknown: list[int]  # cards here, the viewer's like not known: ask the post service


def _since_now() -> int:
    return int(time.time() * 1000) + SINCE_MARGIN_MS


class PostCards:
    def __init__(self, redis: Redis, keys: KeySpace, view: SocialView, *,
                 card_ttl_seconds: int, cold_ttl_seconds: int = 600,
                 liked_ttl_seconds: int = 30 * 86400) -> None:
        self._redis = redis
        self._keys = keys
        self._view = view
        self._card_ttl = card_ttl_seconds
        self._cold_ttl = cold_ttl_seconds
        self._liked_ttl = liked_ttl_seconds
        self._hydrate = redis.register_script(_HYDRATE)
        self._apply = redis.register_script(_APPLY)

    def _card(self, post_id: int) -> str:
        return self._keys.key("card", post_id)

    def _count(self, post_id: int) -> str:
        return self._keys.key("cnt", post_id)

    def _liked(self, viewer_id: str) -> str:
        return self._keys.key("lk", viewer_id)

    def ttl_for(self, post_id: int) -> int:
        age = max(0, int(time.time() - id_time_ms(post_id) / 1000))
        return max(60, self._card_ttl - age)

    # --- writes, from the post service's events ----------------------------------------

    async def put(self, post: post_pb.Post) -> None:
        """A new post: its card, and counts at zero (kept if events got there first)."""
        author = post.author.user_id
        card = post_pb.Post()
        card.CopyFrom(post)
        card.ClearField("author")
        ttl = self.ttl_for(post.post_id)
        count = self._count(post.post_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._card(post.post_id), author.encode() + card.SerializeToString(),
                     ex=ttl, nx=True)
            pipe.hsetnx(count, "l", 0)
            pipe.hsetnx(count, "c", 0)
            pipe.expire(count, ttl)
            await pipe.execute()

    async def delete(self, post_id: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._card(post_id), TOMBSTONE, ex=self.ttl_for(post_id))
            pipe.delete(self._count(post_id))
            await pipe.execute()

    async def count_event(self, event_id: str, post_id: int, field: str, delta: int, *,
                          liker_id: str = "", like_id: int = 0) -> None:
        """Move a count once for `event_id`; a like event (`like_id` > 0 liked, < 0
        unliked) also records the liker's like."""
        count = self._count(post_id)
        liked = self._liked(liker_id) if liker_id else count
        await self._apply(keys=[self._keys.key("ev", event_id), count, liked],
                          args=[field, delta, EVENT_TTL_SECONDS, post_id,
                                str(like_id) if liker_id else ""])

    # --- reads --------------------------------------------------------------------------

    async def hydrate(self, viewer_id: str, post_ids: Sequence[int]) -> Hydrated:
        """The posts of `post_ids` the viewer may see, as serialized `Post`s: one Redis
        round trip when warm (the social view is asked only for what it lacks)."""
        result = Hydrated({}, [], [], [])
        if not post_ids:
            return result
        raw = await self._hydrate(args=[
            self._keys.key("card", ""), self._keys.key("cnt", ""), self._liked(viewer_id),
            self._liked_ttl, *self._view.script_args(viewer_id), *post_ids])
        since = raw[0]
        posts = raw[1:1 + 4 * len(post_ids)]
        reads = self._view.parse_reads(raw[1 + 4 * len(post_ids):])
        since_id_ms = int(since) if since is not None else None
        relations, summaries = await self._view.resolve(viewer_id, reads)

        for i, post_id in enumerate(post_ids):
            card, likes, comments, liked = posts[4 * i:4 * i + 4]
            if card is None or likes is None or comments is None:
                result.cold.append(post_id)
                continue
            if card == TOMBSTONE:
                result.hidden.append(post_id)
                continue
            author = card[:AUTHOR_LEN].decode()
            summary = summaries.get(author)
            if summary is None or not may_see(viewer_id, author, relations.get(author),
                                              summary.private):
                result.hidden.append(post_id)
                continue
            if liked is None:
                if since_id_ms is None or id_time_ms(post_id) < since_id_ms:
                    result.like_unknown.append(post_id)
                    continue
                is_liked = False
            else:
                is_liked = not liked.startswith(b"-") and liked != b"0"
            n_likes, n_comments = max(0, int(likes)), max(0, int(comments))
            result.shown[post_id] = Shown(
                post_id, author, n_likes, n_comments,
                wire.post(card[AUTHOR_LEN:], summary.SerializeToString(), n_likes,
                          n_comments, is_liked))
        return result

    async def fill_cold(self, viewer_id: str, posts: Sequence[post_pb.Post]) -> None:
        """Keep what the post service answered for posts that were cold: the cards, the
        counts (briefly, see the module docstring) and the viewer's likes."""
        if not posts:
            return
        liked = self._liked(viewer_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for post in posts:
                card = post_pb.Post()
                card.CopyFrom(post)
                for name in ("author", "like_count", "comment_count", "liked_by_caller"):
                    card.ClearField(name)
                ttl = self.ttl_for(post.post_id)
                count = self._count(post.post_id)
                pipe.set(self._card(post.post_id),
                         post.author.user_id.encode() + card.SerializeToString(), ex=ttl, nx=True)
                pipe.hsetnx(count, "l", post.like_count)
                pipe.hsetnx(count, "c", post.comment_count)
                pipe.expire(count, min(ttl, self._cold_ttl), nx=True)
                pipe.hsetnx(liked, str(post.post_id), "1" if post.liked_by_caller else "0")
            pipe.hsetnx(liked, SINCE, _since_now())
            pipe.expire(liked, self._liked_ttl)
            await pipe.execute()

    async def fill_likes(self, viewer_id: str, statuses: Sequence[tuple[int, bool]]) -> None:
        """Keep the viewer's like of each post, as the post service answered it; the hash
        holds every later like from now on."""
        liked = self._liked(viewer_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id, is_liked in statuses:
                pipe.hsetnx(liked, str(post_id), "1" if is_liked else "0")
            pipe.hsetnx(liked, SINCE, _since_now())
            pipe.expire(liked, self._liked_ttl)
            await pipe.execute()
