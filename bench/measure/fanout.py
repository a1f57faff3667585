"""The fan-out worker's write rate: timeline rows per second into the CQL store.

`await publish_fanout_tasks(env, tasks, recipients)` publishes `tasks` fan-out tasks of
`recipients` (new, random) followers each on the private mesh's feed stream, as the feed
service does for a post, and waits until the worker has acknowledged every one (so every
row is stored). Returns (rows, seconds).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping


async def publish_fanout_tasks(env: Mapping[str, str], tasks: int, recipients: int, *,
                               active: float = 0.0) -> tuple[int, float]:
    """`active`: the share of each task's recipients who read their feed lately (their
    cached timelines take the post too, as in a real fan-out)."""
    from photomesh.feed.v1 import events_pb2 as fev

    from services.feed.cache import TimelineCache
    from services.runtime.cache import KeySpace, connect_redis
    from services.runtime.events import EventBus
    from services.runtime.ids import Snowflake
    from services.runtime.settings import NatsSettings, RedisSettings

    settings = NatsSettings(url=env["PHOTOMESH_NATS_URL"],
                            stream_prefix=env["PHOTOMESH_NATS_STREAM_PREFIX"],
                            subject_prefix=env["PHOTOMESH_NATS_SUBJECT_PREFIX"])
    bus = await EventBus.connect(settings, "bench")
    ids = Snowflake(999)
    users = [[str(uuid.uuid4()) for _ in range(recipients)] for _ in range(tasks)]
    if active:
        redis_settings = RedisSettings(url=env["PHOTOMESH_REDIS_URL"],
                                       key_prefix=env["PHOTOMESH_REDIS_KEY_PREFIX"])
        redis = connect_redis(redis_settings)
        cache = TimelineCache(redis, KeySpace(redis_settings, "feed"), cap=800,
                              active_seconds=3600, author_cap=100)
        for batch in users:
            await asyncio.gather(*(cache.mark_active(u)
                                   for u in batch[:int(len(batch) * active)]))
        await redis.aclose()
    try:
        t0 = time.perf_counter()
        for i in range(tasks):
            post_id, author = ids.next_id(), str(uuid.uuid4())
            task = fev.FanoutTask(task_id=f"bench:{post_id}", author_user_id=author,
                                  action=fev.FANOUT_ACTION_INSERT_POST, post_id=post_id,
                                  recipient_user_ids=users[i],
                                  batch_index=i)
            await bus.publish("feed", "fanout", task, msg_id=task.task_id)
        stream = bus.stream_name("feed")
        while True:
            info = await bus.js.consumer_info(stream, "feed_feed_fanout")
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.02)
        return tasks * recipients, time.perf_counter() - t0
    finally:
        await bus.close()


__all__ = ["publish_fanout_tasks"]
