"""The notification streams' Redis subscription outlives Redis: when the server goes away,
every open stream is cut off (its client lists what it missed) and the subscription is made
again once Redis answers; before, the failure ended the whole service process (found by the
chaos suite, tests/chaos). A private redis-server of this test's own is the one stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from infra.backends.redis import RedisBackend
from infra.sandbox import free_port
from infra.settings import InfraSettings
from services.notification.cache import InboxCache
from services.runtime.cache import KeySpace
from services.runtime.settings import RedisSettings
from services.runtime.stream_hub import OVERFLOW, StreamHub
from tests.private_backend import PrivateServer


async def test_streams_are_cut_off_and_resubscribed_when_redis_returns(
        backends: InfraSettings, tmp_path: Path) -> None:
    backend = RedisBackend(backends.model_copy(update={"run_dir": tmp_path,
                                                       "redis_port": free_port()}))
    server = PrivateServer(backend, tmp_path / "redis.log")
    server.start()
    settings = RedisSettings(url=backend.url(), key_prefix="hubtest:")
    client = aioredis.Redis.from_url(settings.url, socket_timeout=2)
    cache = InboxCache(client, KeySpace(settings, "notification"))
    hub = StreamHub("notification", client, cache, queue_size=8)
    running = asyncio.ensure_future(hub.run())
    try:
        async with hub.listen("alice") as before:
            server.kill()
            assert await asyncio.wait_for(before.get(), 15) == OVERFLOW
        server.start()
        async def delivered() -> bytes:
            async with hub.listen("alice") as after:
                while True:
                    await client.publish(cache.channel("alice"), b"hello")
                    try:
                        return await asyncio.wait_for(after.get(), 0.5)
                    except TimeoutError:
                        continue
        assert await asyncio.wait_for(delivered(), 30) == b"hello"
        assert not running.done()
    finally:
        running.cancel()
        await client.aclose()
        server.kill()
