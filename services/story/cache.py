"""Redis side of stories: per-author live-story sets, story bodies, per-viewer seen sets
and close friends sets, each rebuilt from CQL when cold.

A set that exists is warm (complete): each holds a sentinel member ``-`` so that an empty
set still exists. Writers only touch a set that is warm (a conditional command in Lua);
a cold set is rebuilt whole by the next reader. Scores of author sets are expire times
(Unix ms), so expired stories are never returned even before their entries are trimmed;
story bodies expire at the story's expiry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from redis.asyncio import Redis

from services.runtime.cache import KeySpace
from services.story.model import StoryRecord, StoryRef

SENTINEL = b"-"

# Run ARGV[1] on KEYS[1] with ARGV[2..] only if the key exists (is warm).
_IF_WARM = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))
end
return false
"""

# The tray's whole Redis read in one call, answered as one string (parsing hundreds of
# replies costs the service far more than the lookups cost Redis). KEYS[1] is the viewer's
# seen set, KEYS[2..] author sets; ARGV[1] now (ms). First line: the viewer's seen story
# ids among the live stories ("!": the seen set is cold); then one line per author: its
# live members comma-separated, or "!" when the author's set is cold.
_TRAY_STATE = """
local seen_warm = redis.call('SISMEMBER', KEYS[1], '-') == 1
local seen = {}
local lines = {}
for i = 2, #KEYS do
  local warm = false
  local live = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. ARGV[1], '+inf')) do
    if m == '-' then
      warm = true
    else
      live[#live + 1] = m
      local id = string.match(m, '^[^.]+')
      if seen_warm and redis.call('SISMEMBER', KEYS[1], id) == 1 then
        seen[#seen + 1] = id
      end
    end
  end
  lines[#lines + 1] = warm and table.concat(live, ',') or '!'
end
local first = seen_warm and table.concat(seen, ',') or '!'
return first .. '\\n' .. table.concat(lines, '\\n')
"""


def _member(story: StoryRecord) -> str:
    return f"{story.story_id}.{story.audience}"


class StoryCache:
    def __init__(self, redis: Redis, keys: KeySpace, warm_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._warm = warm_seconds
        self._if_warm = redis.register_script(_IF_WARM)
        self._tray_state = redis.register_script(_TRAY_STATE)

    def _author(self, author_id: str) -> str:
        return self._keys.key("author", author_id)

    def _story(self, story_id: int) -> str:
        return self._keys.key("story", story_id)

    def _seen(self, viewer_id: str) -> str:
        return self._keys.key("seen", viewer_id)

    def _close_friends(self, owner_id: str) -> str:
        return self._keys.key("cf", owner_id)

    # --- author story sets ----------------------------------------------------------------
    # Members are "<story_id>.<audience>", so a tray is ranked and filtered without
    # reading any story body; bodies are read only for the authors on the page.

    async def add_story(self, story: StoryRecord) -> None:
        await self._redis.set(self._story(story.story_id), story.to_bytes(),
                              pxat=story.expire_ms)
        await self._if_warm(keys=[self._author(story.author_id)],
                            args=["ZADD", story.expire_ms, _member(story)])

    async def remove_story(self, story: StoryRecord) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._author(story.author_id), _member(story))
            pipe.delete(self._story(story.story_id))
            await pipe.execute()

    async def tray_state(self, viewer_id: str, author_ids: Sequence[str], now_ms: int
                         ) -> tuple[dict[str, list[StoryRef]], list[str], set[int] | None]:
        """Live stories per warm author (oldest first), the authors that are cold, and
        the viewer's seen ids among those live stories (None when the seen set is cold),
        in one round trip."""
        reply = await self._tray_state(
            keys=[self._seen(viewer_id), *(self._author(a) for a in author_ids)],
            args=[now_ms])
        first, *lines = (reply.decode() if isinstance(reply, bytes) else reply).split("\n")
        warm: dict[str, list[StoryRef]] = {}
        cold: list[str] = []
        for author, line in zip(author_ids, lines, strict=True):
            if line == "!":
                cold.append(author)
            else:
                warm[author] = sorted(StoryRef.parse(m) for m in line.split(",") if m)
        seen = None if first == "!" else {int(i) for i in first.split(",") if i}
        return warm, cold, seen

    async def bodies(self, story_ids: Sequence[int]) -> dict[int, StoryRecord]:
        """The stored stories among `story_ids` (an evicted body is simply absent)."""
        if not story_ids:
            return {}
        values = await self._redis.mget([self._story(i) for i in story_ids])
        return {i: StoryRecord.from_bytes(v) for i, v in zip(story_ids, values, strict=True)
                if v}

    async def rebuild_authors(self, stories_by_author: Mapping[str, Iterable[StoryRecord]],
                              now_ms: int) -> None:
        """Make each author's set warm with its `stories` (adds to what writers put
        there); all authors in one round trip and one MULTI block."""
        if not stories_by_author:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for author_id, stories in stories_by_author.items():
                key = self._author(author_id)
                pipe.zadd(key, {SENTINEL: "+inf"})
                for story in stories:
                    pipe.zadd(key, {_member(story): story.expire_ms})
                    pipe.set(self._story(story.story_id), story.to_bytes(),
                             pxat=story.expire_ms)
                pipe.zremrangebyscore(key, "-inf", now_ms)
                pipe.expire(key, self._warm)
            await pipe.execute()

    # --- seen sets ------------------------------------------------------------------------

    async def seen(self, viewer_id: str, story_ids: Sequence[int]) -> set[int] | None:
        """Which of `story_ids` the viewer has seen; None when the seen set is cold."""
        flags = await self._redis.smismember(self._seen(viewer_id),
                                             [SENTINEL, *(str(i) for i in story_ids)])
        if not flags[0]:
            return None
        return {i for i, flag in zip(story_ids, flags[1:], strict=True) if flag}

    async def rebuild_seen(self, viewer_id: str, story_ids: Iterable[int]) -> None:
        key = self._seen(viewer_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, SENTINEL, *(str(i) for i in story_ids))
            pipe.expire(key, self._warm)
            await pipe.execute()

    async def mark_seen(self, viewer_id: str, story_id: int) -> None:
        await self._if_warm(keys=[self._seen(viewer_id)], args=["SADD", story_id])

    # --- close friends --------------------------------------------------------------------

    async def close_friend_of(self, owner_ids: Sequence[str], viewer_id: str
                              ) -> tuple[set[str], list[str]]:
        """Owners whose (warm) close friends include the viewer, and the cold owners."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for owner in owner_ids:
                pipe.smismember(self._close_friends(owner), [SENTINEL, viewer_id])
            answers = await pipe.execute()
        member = {o for o, (warm, flag) in zip(owner_ids, answers, strict=True) if warm and flag}
        cold = [o for o, (warm, _) in zip(owner_ids, answers, strict=True) if not warm]
        return member, cold

    async def rebuild_close_friends(self, owner_id: str, friend_ids: Iterable[str]) -> None:
        key = self._close_friends(owner_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.sadd(key, SENTINEL, *friend_ids)
            pipe.expire(key, self._warm)
            await pipe.execute()

    async def drop_close_friends(self, owner_id: str) -> None:
        await self._redis.delete(self._close_friends(owner_id))
