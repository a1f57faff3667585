"""The notification service's Redis read model: each user's newest notifications, the
read watermark, an unread counter, and the per-user stream channel.

Keys (notification key space; the user's keys share a hash tag):

* ``in:{<user>}`` — a sorted set of the user's newest `cap` inbox entries, all with score 0
  so Redis orders them by bytes: each member is the entry's sort id and notification id
  (19-digit zero-padded decimals, so byte order is numeric order), the actor count and
  actor ids, a newline, then the notification's stored body (messages.body). Reads are
  ``ZRANGE … BYLEX REV`` below the page cursor and return what a page needs. Two special
  members sort below every entry: ``""`` (ACTIVE: the key exists and the worker writes
  into it) and ``"0000000000000000000"`` (COMPLETE: the set holds the whole inbox; it goes
  when trimming cuts an entry). A read past the entries of a set without COMPLETE
  continues in the CQL store.
* ``im:{<user>}`` — a hash: ``f`` (when the fill from the CQL store was done), ``w`` (the read
  watermark, 19 digits), and per notification id ``<version>:<sort id>`` — where the entry
  sits and which version of its group it shows. An entry is written only over an older
  version, so worker writes and fills may land in any order and the newest wins.
* ``unread:{<user>}`` — the unread count of a user with more unread notifications than the
  set holds (else it is counted in the set, exactly); dropped whenever it may be wrong.
* ``stream:<user>`` — the pub/sub channel StreamNotifications listens on.

A read of a user whose keys are missing (or whose fill is not done, or older than
`refill_seconds`) refills them from the CQL store (`activate`, then the CQL read, then
`fill`): the worker writes only into existing keys, and it writes after its CQL write, so
an activity is either in what the fill read or written into the keys after they exist.
The keys expire `active_seconds` after the last read. The refill age bounds what a write
the worker could not make (Redis unreachable through every redelivery) leaves behind.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from services.notification import messages
from services.notification.model import Entry
from services.peers.social_view import LUA_VIEW_READS, SocialView, ViewReads
from services.runtime.cache import KeySpace

COMPLETE = b"0" * 19
WATERMARK = "w"  # a page's lower bound: the cached watermark (an unread-only first page)
_SORT, _NID = slice(0, 19), slice(19, 38)

_HELPERS = r"""
local COMPLETE = '0000000000000000000'
local function drop_at(z, s)
  redis.call('ZREMRANGEBYLEX', z, '[' .. s, '(' .. s .. '\255')
end
local function put(z, m, nid, version, sort, prev, member)
  local cur = redis.call('HGET', m, nid)
  if cur then
    local colon = string.find(cur, ':', 1, true)
    if tonumber(string.sub(cur, 1, colon - 1)) >= tonumber(version) then return false end
    drop_at(z, string.sub(cur, colon + 1))
  end
  if prev ~= '' then drop_at(z, prev) end
  redis.call('ZADD', z, 0, member)
  redis.call('HSET', m, nid, version .. ':' .. sort)
  return true
end
local function trim(z, m, cap)
  local extra = redis.call('ZLEXCOUNT', z, '(' .. COMPLETE, '+') - cap
  if extra > 0 then
    local gone = redis.call('ZRANGE', z, '(' .. COMPLETE, '+', 'BYLEX', 'LIMIT', 0, extra)
    for _, g in ipairs(gone) do
      redis.call('HDEL', m, string.sub(g, 20, 38))
      redis.call('ZREM', z, g)
    end
    redis.call('ZREM', z, COMPLETE)
  end
end
local function unread(z, m)
  local w = redis.call('HGET', m, 'w')
  if not w or not redis.call('HGET', m, 'f') then return false end
  if not redis.call('ZSCORE', z, COMPLETE) then
    local lowest = redis.call('ZRANGE', z, '(' .. COMPLETE, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
    if not lowest or string.sub(lowest, 1, 19) > w then return false end
  end
  return redis.call('ZLEXCOUNT', z, '(' .. w .. '\255', '+')
end
local function warm(z, m, now, max_age)
  local f = redis.call('HGET', m, 'f')
  return redis.call('EXISTS', z) == 1 and f ~= false and now - tonumber(f) < max_age
end
"""

# KEYS: set, hash, counter. ARGV: nid, version, sort, moved-from sort ('' none), member,
# cap, channel ('' none), replay ('1'). Writes the entry if the keys exist; returns the
# unread count when known (and publishes "<count>|<member>" on the channel).
_APPLY = _HELPERS + r"""
local z, m, c = KEYS[1], KEYS[2], KEYS[3]
local count = false
if redis.call('EXISTS', z) == 1 and redis.call('EXISTS', m) == 1 then
  local written = put(z, m, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
  if written then trim(z, m, tonumber(ARGV[6])) end
  count = unread(z, m)
  if not count then
    local w = redis.call('HGET', m, 'w')
    if not written then
      count = tonumber(redis.call('GET', c) or '') or false
    elseif w and redis.call('EXISTS', c) == 1 then
      local delta = 0
      if ARGV[3] > w then delta = 1 end
      if ARGV[4] ~= '' and ARGV[4] > w then delta = delta - 1 end
      count = redis.call('INCRBY', c, delta)
    else
      redis.call('DEL', c)
    end
  end
elseif ARGV[4] == '' and ARGV[8] ~= '1' and redis.call('EXISTS', c) == 1 then
  count = redis.call('INCR', c)
else
  redis.call('DEL', c)
end
if ARGV[7] ~= '' then
  redis.call('PUBLISH', ARGV[7], (count and tostring(count) or '') .. '|' .. ARGV[5])
end
return count
"""

# KEYS: set, hash. ARGV: upper bound, lower bound ('w': above the watermark), limit, active
# seconds, the reader's relation hash, summary key prefix, now, refill age. {} when cold;
# else the watermark, complete ('1'/'0'),
# the lowest entry's sort id ('' none), the relation hash's version, the number of members,
# the members, then per distinct actor: id, relation code, summary data, time, version.
_PAGE = _HELPERS + LUA_VIEW_READS + r"""
local z, m = KEYS[1], KEYS[2]
if not warm(z, m, tonumber(ARGV[5]), tonumber(ARGV[6])) then return {} end
redis.call('EXPIRE', z, ARGV[4])
redis.call('EXPIRE', m, ARGV[4])
local w = redis.call('HGET', m, 'w') or COMPLETE
local lower = ARGV[2]
if lower == 'w' then lower = '(' .. w .. '\255' end
local page = redis.call('ZRANGE', z, ARGV[1], lower, 'BYLEX', 'REV', 'LIMIT', 0, ARGV[3])
local lowest = redis.call('ZRANGE', z, '(' .. COMPLETE, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
local out = {w,
             redis.call('ZSCORE', z, COMPLETE) and '1' or '0',
             lowest and string.sub(lowest, 1, 19) or '',
             #page}
local seen, actors = {}, {}
for _, member in ipairs(page) do
  out[#out + 1] = member
  local nl = string.find(member, '\n', 39, true)
  local first = true
  for id in string.gmatch(string.sub(member, 39, nl - 1), '[^,]+') do
    if not first and not seen[id] then seen[id] = true; actors[#actors + 1] = id end
    first = false
  end
end
view_reads(ARGV[7], ARGV[8], ARGV[9], ARGV[10], actors, out)
return out
"""

# KEYS: set, hash. ARGV: active seconds, now, refill age. Makes both keys exist (anew,
# when either was missing or the last fill is older than the refill age) before a fill
# reads the CQL store.
_ACTIVATE = r"""
local f = redis.call('HGET', KEYS[2], 'f')
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 or
   (f and tonumber(ARGV[2]) - tonumber(f) >= tonumber(ARGV[3])) then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZADD', KEYS[1], 0, '')
  redis.call('HSET', KEYS[2], '~', '1')
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""

# KEYS: set, hash. ARGV: active seconds, cap, complete ('1'/'0'), watermark, now, then per
# entry: nid, version, sort, member. 0 if the keys went away meanwhile.
_FILL = _HELPERS + r"""
local z, m = KEYS[1], KEYS[2]
if redis.call('EXISTS', z) == 0 or redis.call('EXISTS', m) == 0 then return 0 end
for i = 6, #ARGV, 4 do put(z, m, ARGV[i], ARGV[i + 1], ARGV[i + 2], '', ARGV[i + 3]) end
if ARGV[3] == '1' then redis.call('ZADD', z, 0, COMPLETE) end
local w = redis.call('HGET', m, 'w')
if not w or ARGV[4] > w then redis.call('HSET', m, 'w', ARGV[4]) end
redis.call('HSET', m, 'f', ARGV[5])
trim(z, m, tonumber(ARGV[2]))
redis.call('EXPIRE', z, ARGV[1])
redis.call('EXPIRE', m, ARGV[1])
return 1
"""

# KEYS: set, hash, counter. ARGV: the new watermark. Raises the cached watermark (where
# the hash exists) and drops the counter; the unread count when the set holds it.
_RAISE_MARK = _HELPERS + r"""
local z, m, c = KEYS[1], KEYS[2], KEYS[3]
redis.call('DEL', c)
if redis.call('EXISTS', z) == 0 or redis.call('EXISTS', m) == 0 then return false end
local w = redis.call('HGET', m, 'w')
if not w or ARGV[1] > w then redis.call('HSET', m, 'w', ARGV[1]) end
if redis.call('HGET', m, 'f') == false then return false end
return unread(z, m)
"""

# KEYS: set, hash, counter. ARGV: now, refill age. {0} cold; {1, count}; {2, watermark}:
# warm, but more unread than the set holds and no counter.
_UNREAD = _HELPERS + r"""
local z, m, c = KEYS[1], KEYS[2], KEYS[3]
if not warm(z, m, tonumber(ARGV[1]), tonumber(ARGV[2])) then return {0} end
local n = unread(z, m)
if n then return {1, n} end
local v = redis.call('GET', c)
if v then return {1, tonumber(v)} end
return {2, redis.call('HGET', m, 'w')}
"""


def pad(value: int) -> bytes:
    return b"%019d" % value


def encode(entry: Entry) -> bytes:
    """An entry as a member of the set."""
    n = entry.notification
    header = b"%019d%019d%d" % (entry.sort_id, n.notification_id, n.actor_count)
    for actor in n.actor_ids:
        header += b"," + actor.encode()
    return header + b"\n" + messages.body(n)


@dataclass(frozen=True, slots=True)
class Stored:
    """A member of the set, split into what a read needs."""

    sort_id: int
    notification_id: int
    actor_count: int
    actor_ids: tuple[str, ...]
    body: bytes


def decode(member: bytes) -> Stored:
    head, _, body = member.partition(b"\n")
    count, *actors = head[38:].split(b",")
    return Stored(int(head[_SORT]), int(head[_NID]), int(count),
                  tuple(a.decode() for a in actors), body)


@dataclass(frozen=True)
class CachedPage:
    """What the set holds of a page, with the social view's reads of its actors."""

    watermark: int
    complete: bool
    lowest: int | None  # the lowest entry's sort id (None: no entries)
    entries: list[Stored]
    view: ViewReads


class InboxCache:
    def __init__(self, redis: Redis, keys: KeySpace, *, cap: int = 200,
                 active_seconds: int = 7 * 86400, refill_seconds: int = 86400) -> None:
        self._redis = redis
        self._keys = keys
        self.cap = cap
        self._active = active_seconds
        self._refill = refill_seconds
        self._apply = redis.register_script(_APPLY)
        self._page = redis.register_script(_PAGE)
        self._activate = redis.register_script(_ACTIVATE)
        self._fill = redis.register_script(_FILL)
        self._raise_mark = redis.register_script(_RAISE_MARK)
        self._unread = redis.register_script(_UNREAD)

    def _user_keys(self, user_id: str) -> list[str]:
        tag = "{" + user_id + "}"
        return [self._keys.key("in", tag), self._keys.key("im", tag),
                self._keys.key("unread", tag)]

    # --- the stream channel -------------------------------------------------------------

    def channel(self, user_id: str) -> str:
        return self._keys.key("stream", user_id)

    @property
    def channel_pattern(self) -> str:
        return self._keys.key("stream", "*")

    def user_of_channel(self, channel: str) -> str:
        return channel.rsplit(":", 1)[-1]

    # --- the worker ---------------------------------------------------------------------

    async def apply(self, user_id: str, entry: Entry, moved_from: int, *, publish: bool,
                    replay: bool = False) -> int | None:
        """Write an entry the CQL store now holds (if the user's keys exist) and publish it
        on the user's channel; the unread count when known."""
        count = await self._apply(keys=self._user_keys(user_id), args=[
            pad(entry.notification.notification_id), entry.version, pad(entry.sort_id),
            pad(moved_from) if moved_from else b"", encode(entry), self.cap,
            self.channel(user_id) if publish else "", "1" if replay else "0"])
        return int(count) if count is not None else None

    # --- reads --------------------------------------------------------------------------

    async def page(self, user_id: str, below: int | None, above: int | None | str,
                   limit: int, view_args: Sequence[str]) -> CachedPage | None:
        """Up to `limit` entries with `above` < sort id < `below` (`above` None: no lower
        bound, WATERMARK: the cached watermark), newest first, and the social view's reads
        of their actors (`view_args`: SocialView.script_args); None when cold."""
        z, m, _ = self._user_keys(user_id)
        upper = b"(" + pad(below) if below is not None else b"+"
        if isinstance(above, int):
            lower = b"(" + pad(above) + b"\xff"
        else:
            lower = b"w" if above == WATERMARK else b"(" + COMPLETE
        raw = await self._page(keys=[z, m], args=[upper, lower, limit, self._active,
                                                  int(time.time()), self._refill, *view_args])
        if not raw:
            return None
        n = int(raw[3])
        return CachedPage(int(raw[0]), raw[1] == b"1", int(raw[2]) if raw[2] else None,
                          [decode(member) for member in raw[4:4 + n]],
                          SocialView.parse_reads(raw[4 + n:]))

    async def activate(self, user_id: str) -> None:
        z, m, _ = self._user_keys(user_id)
        await self._activate(keys=[z, m], args=[self._active, int(time.time()), self._refill])

    async def fill(self, user_id: str, entries: Sequence[Entry], complete: bool,
                   watermark: int) -> None:
        z, m, _ = self._user_keys(user_id)
        args: list[bytes | int | str] = [self._active, self.cap, "1" if complete else "0",
                                         pad(watermark), int(time.time())]
        for entry in entries:
            args += [pad(entry.notification.notification_id), entry.version,
                     pad(entry.sort_id), encode(entry)]
        await self._fill(keys=[z, m], args=args)

    async def raise_mark(self, user_id: str, watermark: int) -> int | None:
        count = await self._raise_mark(keys=self._user_keys(user_id), args=[pad(watermark)])
        return int(count) if count is not None else None

    async def unread(self, user_id: str) -> tuple[int, int | None]:
        """(0, None) cold; (1, count); (2, watermark): warm but the count is not here."""
        state, *value = await self._unread(keys=self._user_keys(user_id),
                                           args=[int(time.time()), self._refill])
        return int(state), int(value[0]) if value else None

    async def set_unread(self, user_id: str, count: int, ttl_seconds: int = 600) -> None:
        await self._redis.set(self._user_keys(user_id)[2], count, ex=ttl_seconds)

    async def position(self, user_id: str, notification_id: int) -> int | None:
        """Where the set says a notification sits (None: not in the set)."""
        raw = await self._redis.hget(self._user_keys(user_id)[1], pad(notification_id))
        return int(raw.split(b":", 1)[1]) if raw else None
