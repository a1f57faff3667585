"""Sign-in attempts, counted in Redis so that guessing is slow and a stranger cannot lock
the owner out.

Two budgets per window, both spent *before* the password is checked (parallel guesses
count) and refunded when it was right:

* per (account, client address): `per_address` attempts. A stranger spends only their
  own address's budget; the owner elsewhere is untouched.
* per account, over every address: `per_account` attempts, against guessing spread over
  many addresses. Addresses the account signed in from before (in the last
  `trusted_days`) skip this budget, so even while it is spent the owner's usual devices
  still sign in; only a new address waits.

The client address is what the edge puts in ``x-photomesh-client-address`` (it overwrites
any copy a client sends); the auth service is not reachable by clients otherwise.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from services.runtime.cache import KeySpace
from services.runtime.errors import ResourceExhausted

MAX_TRUSTED = 20  # addresses remembered per account (the most recent)

# KEYS per-address counter, per-account counter, trusted set; ARGV address, now, window,
# per-address limit, per-account limit. Returns {0, retry_after} when refused, else {1, 0}.
_SPEND = """
local trusted = redis.call('ZSCORE', KEYS[3], ARGV[1])
trusted = trusted and tonumber(trusted) > tonumber(ARGV[2])
local function over(key, limit)
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(limit) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = 1 end
    return ttl
  end
  return false
end
local wait = over(KEYS[1], ARGV[4])
if not wait and not trusted then wait = over(KEYS[2], ARGV[5]) end
if wait then return {0, wait} end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3], 'NX')
if not trusted then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3], 'NX')
end
return {1, trusted and 1 or 0}
"""

# KEYS per-address counter, per-account counter, trusted set; ARGV address, now, trust
# until, counted on the account ('1'/'0'), max trusted.
_SUCCEED = """
redis.call('DEL', KEYS[1])
if ARGV[4] == '1' then
  local n = tonumber(redis.call('GET', KEYS[2]) or '0')
  if n > 0 then redis.call('DECR', KEYS[2]) end
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, extra - 1) end
redis.call('EXPIRE', KEYS[3], math.floor(tonumber(ARGV[3]) - tonumber(ARGV[2])))
return 1
"""


class Attempt:
    """One sign-in attempt's spent budget (to refund with `LoginThrottle.succeeded`)."""

    def __init__(self, username: str, address: str, on_account: bool) -> None:
        self.username = username
        self.address = address
        self.on_account = on_account


class LoginThrottle:
    def __init__(self, redis: Redis, keys: KeySpace, per_address: int, per_account: int,
                 window_seconds: int, trusted_days: int) -> None:
        self._redis = redis
        self._keys = keys
        self._per_address = per_address
        self._per_account = per_account
        self._window = window_seconds
        self._trusted_seconds = trusted_days * 86400
        self._spend = redis.register_script(_SPEND)
        self._succeed = redis.register_script(_SUCCEED)

    def _k(self, username: str, address: str) -> list[str]:
        return [self._keys.key("login_attempts", username, address),
                self._keys.key("login_attempts", username),
                self._keys.key("login_trusted", username)]

    async def attempt(self, username: str, address: str) -> Attempt:
        """Spend one attempt of `username` from `address`; RESOURCE_EXHAUSTED (with the
        seconds to wait) when a budget of this window is spent."""
        allowed, value = await self._spend(
            keys=self._k(username, address),
            args=[address, int(time.time()), self._window, self._per_address,
                  self._per_account])
        if not int(allowed):
            raise ResourceExhausted(
                "too many sign-in attempts for this account; wait and try again",
                reason="RATE_LIMITED", metadata={"retry_after_seconds": str(int(value))})
        return Attempt(username, address, on_account=not int(value))

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: refund the attempt and trust the address."""
        now = int(time.time())
        await self._succeed(keys=self._k(attempt.username, attempt.address),
                            args=[attempt.address, now, now + self._trusted_seconds,
                                  "1" if attempt.on_account else "0", MAX_TRUSTED])

    async def trust(self, username: str, address: str) -> None:
        """A registration: the address the account was made from is trusted."""
        await self.succeeded(Attempt(username, address, on_account=False))
