"""Engagement kept from events, in Redis (the discovery key space): per-post counts, the
top posts of each hashtag, hashtag post counts with their autocomplete sets, the hourly
trending windows and the newest public posts.

Keys (``<prefix>discovery:``):

* ``ev:<event id>`` — an event already applied (a day): every event moves things once.
* ``n:<post>`` — hash ``l`` likes, ``c`` comments, ``v`` views; lives `engagement_ttl`
  after its last event. Exact while it lives (a post older than the index shows only what
  happened since).
* ``top:<tag>`` — sorted set post id -> engagement (scoring.engagement), the best
  `top_cap` kept; it lives `engagement_ttl` after the tag's last engagement.
* ``tc:<tag>`` — posts using the hashtag; ``ac:<prefix>`` — sorted set tag -> post count
  of the most used tags starting with each prefix of 1-15 characters (`autocomplete_cap`).
* ``tr:p:<hour>`` / ``tr:h:<hour>`` — trending windows: sorted sets of ``<post>/<author>``
  (public accounts' posts) or tags -> weight of that hour's engagement (scoring.py), the
  best `window_cap` kept, expiring when they leave the window. ``tr:snap:p`` /
  ``tr:snap:h`` — their decayed union, rebuilt at most every `snapshot_seconds`.
* ``recent`` — sorted set ``<post>/<author>`` -> create time (ms): the newest public posts.

Staleness: counts follow their events (milliseconds behind the write); trending lists lag
by at most `snapshot_seconds`. Whether an author is public is decided at event time for
what enters the windows and checked again when served.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from redis.asyncio import Redis

from services.discovery import scoring
from services.discovery.model import Counts
from services.runtime.cache import KeySpace

EVENT_TTL_SECONDS = 86_400
AUTOCOMPLETE_PREFIX = 15

# KEYS[1] marker, KEYS[2] counts hash, KEYS[3] posts window, KEYS[4] tags window,
# KEYS[5..] top:<tag>. ARGV: 1 marker ttl, 2 field, 3 delta, 4 counts ttl, 5 post id,
# 6 window member ('' = not trending), 7 trend weight, 8 window ttl, 9 window cap,
# 10 top cap, 11-13 like/comment/view weights, 14 weight in the posts window (0: only the
# tags window moves), 15.. tags (for the tags window).
_ENGAGE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local n = redis.call('HMGET', KEYS[2], 'l', 'c', 'v')
local function pos(x) x = tonumber(x or '0') if x < 0 then return 0 end return x end
local score = pos(n[1]) * tonumber(ARGV[11]) + pos(n[2]) * tonumber(ARGV[12])
              + pos(n[3]) * tonumber(ARGV[13])
local function trim(key, cap)
  local size = redis.call('ZCARD', key)
  if size > cap then redis.call('ZREMRANGEBYRANK', key, 0, size - cap - 1) end
end
for i = 5, #KEYS do
  redis.call('ZADD', KEYS[i], score, ARGV[5])
  redis.call('EXPIRE', KEYS[i], ARGV[4])
  trim(KEYS[i], tonumber(ARGV[10]))
end
if ARGV[6] ~= '' then
  if tonumber(ARGV[14]) ~= 0 then
    redis.call('ZINCRBY', KEYS[3], ARGV[14], ARGV[6])
    redis.call('EXPIRE', KEYS[3], ARGV[8])
    trim(KEYS[3], tonumber(ARGV[9]))
  end
  for i = 15, #ARGV do redis.call('ZINCRBY', KEYS[4], ARGV[7], ARGV[i]) end
  if #ARGV >= 15 then
    redis.call('EXPIRE', KEYS[4], ARGV[8])
    trim(KEYS[4], tonumber(ARGV[9]))
  end
end
return 1
"""

# KEYS[1] marker. ARGV: 1 marker ttl, 2 delta, 3 autocomplete cap, 4 count key prefix,
# then per tag: tag, number of prefixes k, k autocomplete keys.
_COUNT_TAGS = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
local i = 5
while i <= #ARGV do
  local tag, k = ARGV[i], tonumber(ARGV[i + 1])
  local count = redis.call('INCRBY', ARGV[4] .. tag, ARGV[2])
  if count <= 0 then redis.call('DEL', ARGV[4] .. tag) end
  for j = i + 2, i + 1 + k do
    if count > 0 then
      redis.call('ZADD', ARGV[j], count, tag)
      local size = redis.call('ZCARD', ARGV[j])
      local cap = tonumber(ARGV[3])
      if size > cap then redis.call('ZREMRANGEBYRANK', ARGV[j], 0, size - cap - 1) end
    else
      redis.call('ZREM', ARGV[j], tag)
    end
  end
  i = i + 2 + k
end
return 1
"""

# KEYS: the snapshot, then the windows. ARGV: 1 snapshot ttl, 2 list size, 3.. weights.
# The decayed union is rebuilt only when the snapshot has expired.
_TRENDING = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local windows = {}
  for i = 2, #KEYS do windows[#windows + 1] = KEYS[i] end
  local args = {'ZUNIONSTORE', KEYS[1], #windows}
  for _, k in ipairs(windows) do args[#args + 1] = k end
  args[#args + 1] = 'WEIGHTS'
  for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call(unpack(args))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
"""


def member(post_id: int, author_id: str) -> str:
    """A post in the trending windows and the recent list."""
    return f"{post_id}/{author_id}"


def parse_member(raw: bytes | str) -> tuple[int, str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    post, _, author = text.partition("/")
    return int(post), author


class Engagement:
    def __init__(self, redis: Redis, keys: KeySpace, *, top_cap: int, counts_ttl_seconds: int,
                 autocomplete_cap: int, window_hours: int, half_life_hours: float,
                 window_cap: int, snapshot_seconds: int, list_size: int,
                 recent_cap: int) -> None:
        self._redis = redis
        self._keys = keys
        self._top_cap = top_cap
        self._counts_ttl = counts_ttl_seconds
        self._autocomplete_cap = autocomplete_cap
        self._window_hours = window_hours
        self._half_life = half_life_hours
        self._window_cap = window_cap
        self._snapshot_seconds = snapshot_seconds
        self._list_size = list_size
        self._recent_cap = recent_cap
        self._engage = redis.register_script(_ENGAGE)
        self._count_tags = redis.register_script(_COUNT_TAGS)
        self._trending = redis.register_script(_TRENDING)

    def _window(self, kind: str, hour: int) -> str:
        return self._keys.key("tr", kind, hour)

    def _top(self, tag: str) -> str:
        return self._keys.key("top", tag)

    # --- writes (the indexer's events, and views) ---------------------------------------

    async def engage(self, marker: str, post_id: int, field: str, delta: int, *,
                     tags: Sequence[str], trending_member: str | None, weight: float,
                     post_weight: float | None = None, at: float | None = None) -> bool:
        """Count one engagement once per `marker`: the post's counts and its place among
        each hashtag's top posts; and, for a public account's post (`trending_member`),
        `weight` in this hour's trending windows of its hashtags and `post_weight` (default
        `weight`) in the posts window. False: already applied."""
        hour = scoring.hour_of(at if at is not None else time.time())
        window_ttl = (self._window_hours + 1) * scoring.HOUR
        applied = await self._engage(
            keys=[self._keys.key("ev", marker), self._keys.key("n", post_id),
                  self._window("p", hour), self._window("h", hour),
                  *(self._top(t) for t in tags)],
            args=[EVENT_TTL_SECONDS, field, delta, self._counts_ttl, post_id,
                  trending_member or "", weight, window_ttl, self._window_cap, self._top_cap,
                  scoring.TOP_LIKE, scoring.TOP_COMMENT, scoring.TOP_VIEW,
                  weight if post_weight is None else post_weight, *tags])
        return bool(applied)

    async def count_hashtags(self, marker: str, tags: Sequence[str], delta: int) -> None:
        """Move the post counts of `tags` by `delta`, once per `marker`."""
        if not tags:
            return
        args: list[object] = [EVENT_TTL_SECONDS, delta, self._autocomplete_cap,
                              self._keys.key("tc", "")]
        for tag in tags:
            prefixes = [tag[:n] for n in range(1, min(len(tag), AUTOCOMPLETE_PREFIX) + 1)]
            args += [tag, len(prefixes), *(self._keys.key("ac", p) for p in prefixes)]
        await self._count_tags(keys=[self._keys.key("ev", marker)], args=args)

    async def add_recent(self, post_id: int, author_id: str, created_ms: int) -> None:
        key = self._keys.key("recent")
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {member(post_id, author_id): created_ms})
            pipe.zremrangebyrank(key, 0, -(self._recent_cap + 1))
            await pipe.execute()

    async def forget(self, post_id: int, author_id: str, tags: Sequence[str]) -> None:
        """A deleted post leaves the top lists, the recent list and the trending windows."""
        m = member(post_id, author_id)
        now_hour = scoring.hour_of(time.time())
        async with self._redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.zrem(self._top(tag), str(post_id))
            pipe.zrem(self._keys.key("recent"), m)
            pipe.zrem(self._keys.key("tr", "snap", "p"), m)
            for hour in range(now_hour, now_hour - self._window_hours - 1, -1):
                pipe.zrem(self._window("p", hour), m)
            await pipe.execute()

    # --- reads ----------------------------------------------------------------------------

    async def counts(self, post_ids: Sequence[int]) -> dict[int, Counts]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.hmget(self._keys.key("n", post_id), ["l", "c", "v"])
            replies = await pipe.execute()
        return {p: Counts(*(max(0, int(x or 0)) for x in r))
                for p, r in zip(post_ids, replies, strict=True)}

    async def top_posts(self, tag: str) -> list[tuple[str, float]]:
        raw = await self._redis.zrevrange(self._top(tag), 0, self._top_cap - 1,
                                          withscores=True)
        return [(m.decode(), float(s)) for m, s in raw]

    async def hashtag_counts(self, tags: Sequence[str]) -> dict[str, int]:
        if not tags:
            return {}
        raw = await self._redis.mget([self._keys.key("tc", t) for t in tags])
        return {t: max(0, int(v or 0)) for t, v in zip(tags, raw, strict=True)}

    async def autocomplete(self, prefix: str, limit: int) -> list[tuple[str, int]]:
        """The most used hashtags starting with `prefix`, with their post counts."""
        key = self._keys.key("ac", prefix[:AUTOCOMPLETE_PREFIX])
        raw = await self._redis.zrevrange(key, 0, -1, withscores=True)
        found = [(m.decode(), int(s)) for m, s in raw]
        return [(t, n) for t, n in found if t.startswith(prefix)][:limit]

    async def trending(self, kind: str) -> list[tuple[str, float]]:
        """The trending list of `kind` ("p" posts as members, "h" hashtags), best first."""
        weights = scoring.window_weights(time.time(), self._window_hours, self._half_life)
        raw = await self._trending(
            keys=[self._keys.key("tr", "snap", kind),
                  *(self._window(kind, hour) for hour, _ in weights)],
            args=[self._snapshot_seconds, self._list_size, *(w for _, w in weights)])
        pairs = [(raw[i].decode(), float(raw[i + 1])) for i in range(0, len(raw), 2)]
        return [(m, s) for m, s in pairs if s > 0]

    async def recent(self, limit: int) -> list[str]:
        raw = await self._redis.zrevrange(self._keys.key("recent"), 0, limit - 1)
        return [m.decode() for m in raw]
