"""CPU per activity applied to an inbox (the notification worker's store work), in-process,
on a keyspace and Redis prefix of its own:

    python -m bench.notification_store [--chunks 8] [--per-chunk 150] [--concurrency 8]

Likes by 40 actors on 30 posts of 10 recipients (so groups both start and regroup), after
a warm-up; for each chunk, the CPU of the CQL store, of Redis and of this process (the
inbox code and the CQL driver) divided by the activities. On a shared machine the CQL
store also serves other runs, and their load only ever adds: the minimum over chunks is
the closest to what an activity costs it (the median is printed beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

from bench.notifications import cpu_seconds, listening_pid
from infra.settings import InfraSettings
from services.notification.cache import InboxCache
from services.notification.inbox import Inbox
from services.notification.model import Activity, Kind, Subject
from services.notification.store import InboxStore
from services.runtime import migrations
from services.runtime.cache import KeySpace, connect_redis
from services.runtime.cql import CqlStore
from services.runtime.ids import Snowflake
from services.runtime.settings import CqlSettings, RedisSettings

WORKER_ID = 997


async def measure(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:8]
    infra = InfraSettings()
    cql = await CqlStore.connect(CqlSettings(keyspace=f"pmbench_nstore_{run}",
                                             contact_points=[infra.host], port=infra.cql_port,
                                             username=infra.cql_username,
                                             password=infra.cql_password))
    redis_settings = RedisSettings(url=infra.redis_url(),
                                   key_prefix=f"pmbench:nstore:{run}:")
    redis = connect_redis(redis_settings)
    try:
        await migrations.apply(cql, ["notification"])
        inbox = Inbox(InboxStore(cql), InboxCache(redis, KeySpace(redis_settings,
                                                                  "notification")),
                      Snowflake(WORKER_ID), 3600)
        users = [str(uuid.uuid4()) for _ in range(10)]
        actors = [str(uuid.uuid4()) for _ in range(40)]
        for user in users:
            await inbox.refill(user)  # the recipients read their notifications
        gate = asyncio.Semaphore(args.concurrency)

        async def one(i: int) -> None:
            post_id = i % 30
            async with gate:
                await inbox.add(Activity(
                    users[i % 10], actors[(i * 7) % 40], Kind.POST_LIKED, f"liked/{post_id}",
                    f"{uuid.uuid4()}/liked/{post_id}", Subject(post_id=post_id)))

        await asyncio.gather(*(one(i) for i in range(200)))
        store_pid, redis_pid = listening_pid(infra.cql_port), listening_pid(infra.redis_port)
        rows = []
        for chunk in range(args.chunks):
            before = (cpu_seconds(store_pid), cpu_seconds(redis_pid), time.process_time())
            start = 10_000 + chunk * args.per_chunk
            await asyncio.gather(*(one(i) for i in range(start, start + args.per_chunk)))
            after = (cpu_seconds(store_pid), cpu_seconds(redis_pid), time.process_time())
            rows.append([(b - a) * 1000 / args.per_chunk for a, b in zip(before, after,
                                                                          strict=True)])
            await asyncio.sleep(0.5)
        print(f"{args.chunks} chunks of {args.per_chunk} activities "
              f"(load average {os.getloadavg()[0]:.1f}); CPU ms per activity:")
        for k, name in enumerate(("CQL store", "Redis", "inbox code + driver")):
            values = sorted(r[k] for r in rows)
            print(f"  {name:<22} min {values[0]:.3f}   median {statistics.median(values):.3f}")
    finally:
        await cql.execute_raw(f"DROP KEYSPACE IF EXISTS pmbench_nstore_{run}")
        keys = [k async for k in redis.scan_iter(match=f"pmbench:nstore:{run}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await cql.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--per-chunk", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
