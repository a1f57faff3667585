"""Server streams of signed-in users: each ends when its token expires or its session is
signed out, and a user holds at most `max_per_user` at once (over every replica).

`StreamGuard.open(principal)` admits a stream (or refuses it RESOURCE_EXHAUSTED /
``TOO_MANY_STREAMS``) and yields a future that fails with why the stream must end:
UNAUTHENTICATED ``TOKEN_EXPIRED`` at the token's expiry, ``SESSION_REVOKED`` once the
session is signed out (services/runtime/sessions.py, checked every `check_seconds` for all
of the process's streams in one round trip). `StreamInterceptor` applies it to every
response-streaming RPC called by a user; the client reconnects with a fresh token.

Open streams are counted in Redis: a sorted set per user of stream ids scored by a lease
end, renewed while the stream lives, so streams of a process that died stop counting
after `lease_seconds`. When Redis cannot be reached the cap is not applied (streams are
admitted, and end at their token's expiry as always) rather than refusing everyone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.runtime import auth
from services.runtime.cache import KeySpace
from services.runtime.errors import ResourceExhausted, Unauthenticated
from services.runtime.sessions import SessionRevocations
from services.runtime.settings import RedisSettings, StreamSettings

log = logging.getLogger(__name__)


# KEYS the user's set; ARGV now, lease end, stream id, cap. 1 admitted, 0 refused.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(ARGV[2]) * 1000))
return 1
"""


@dataclass
class _Open:
    principal: auth.Principal
    key: str
    ended: asyncio.Future[None]


class StreamGuard:
    def __init__(self, redis: Redis, redis_settings: RedisSettings,
                 settings: StreamSettings) -> None:
        self._redis = redis
        self._keys = KeySpace(redis_settings, "streams")
        self._revocations = SessionRevocations(redis, redis_settings)
        self._settings = settings
        self._admit = redis.register_script(_ADMIT)
        self._open: dict[str, _Open] = {}
        self._watcher: asyncio.Task[None] | None = None

    @property
    def open_streams(self) -> int:
        return len(self._open)

    @asynccontextmanager
    async def open(self, principal: auth.Principal) -> AsyncIterator[asyncio.Future[None]]:
        stream_id = uuid.uuid4().hex
        key = self._keys.key("user", principal.user_id)
        now = time.time()
        try:
            admitted = await self._admit(keys=[key], args=[
                now, now + self._settings.lease_seconds, stream_id,
                self._settings.max_per_user])
        except RedisError as exc:
            log.warning("streams: cap not applied, Redis unavailable: %r", exc)
            admitted = 1
        if not int(admitted):
            raise ResourceExhausted(
                f"at most {self._settings.max_per_user} streams per user at once; close one",
                reason="TOO_MANY_STREAMS",
                metadata={"max_streams": str(self._settings.max_per_user)})
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(max(0.0, principal.expires_at - time.time()), _end, ended,
                                Unauthenticated("the access token has expired; refresh it "
                                                "and reconnect", reason="TOKEN_EXPIRED"))
        self._open[stream_id] = _Open(principal, key, ended)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())
        try:
            yield ended
        finally:
            timer.cancel()
            self._open.pop(stream_id, None)
            if not ended.done():
                ended.cancel()
            elif not ended.cancelled():
                ended.exception()  # seen: why it ended was (or needed no longer be) told
            try:
                await self._redis.zrem(key, stream_id)
            except RedisError as exc:
                log.warning("streams: could not release a stream (its lease ends it): %r",
                            exc)

    async def _watch(self) -> None:
        """While streams are open: end signed-out ones and renew their leases."""
        while self._open:
            await asyncio.sleep(self._settings.check_seconds)
            streams = dict(self._open)
            try:
                revoked = await self._revocations.revoked(
                    s.principal.session_id for s in streams.values())
                lease_end = time.time() + self._settings.lease_seconds
                async with self._redis.pipeline(transaction=False) as pipe:
                    for stream_id, s in streams.items():
                        pipe.zadd(s.key, {stream_id: lease_end}, xx=True)
                        pipe.pexpireat(s.key, int(lease_end * 1000))
                    await pipe.execute()
            except RedisError as exc:
                log.warning("streams: sign-outs not checked, Redis unavailable: %r", exc)
                continue
            for s in streams.values():
                if s.principal.session_id in revoked:
                    _end(s.ended, Unauthenticated("this session was signed out",
                                                  reason="SESSION_REVOKED"))


def _end(ended: asyncio.Future[None], why: BaseException) -> None:
    if not ended.done():
        ended.set_exception(why)


Behavior = Callable[..., Any]


class StreamInterceptor(aio.ServerInterceptor):
    """Applies `StreamGuard` to every response-streaming RPC a user calls (service callers
    and calls without a caller, such as health watches, pass as they are)."""

    def __init__(self, guard: StreamGuard) -> None:
        self._guard = guard

    async def intercept_service(self, continuation: Callable[..., Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or not inspect.isasyncgenfunction(handler.unary_stream):
            return handler  # unary, or a stream written with context.write (health Watch)
        return grpc.unary_stream_rpc_method_handler(
            self._guarded(handler.unary_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    def _guarded(self, behavior: Behavior) -> Behavior:
        guard = self._guard

        async def stream(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            principal = auth.caller_or_none()
            if principal is None or principal.is_service:
                async for item in behavior(request, context):
                    yield item
                return
            async with guard.open(principal) as ended:
                responses = behavior(request, context).__aiter__()
                try:
                    while True:
                        step = asyncio.ensure_future(responses.__anext__())
                        await asyncio.wait((step, ended), return_when=asyncio.FIRST_COMPLETED)
                        if not step.done():
                            step.cancel()
                            await asyncio.gather(step, return_exceptions=True)
                            ended.result()  # raises why the stream ends
                        try:
                            item = step.result()
                        except StopAsyncIteration:
                            return
                        yield item
                finally:
                    closing = getattr(responses, "aclose", None)
                    if closing is not None:
                        await closing()

        return stream
