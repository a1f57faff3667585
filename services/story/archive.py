"""The archive job: moves expired stories into their author's private archive.

Runs in every story process (copies are harmless: archiving is an idempotent upsert).
It walks the expiry index from its checkpoint to now, archives each story whose
expire_time has passed, and advances the checkpoint past every bucket that is over. The
buckets are read WINDOW at a time, SCAN_CONCURRENCY at once, and the checkpoint saved after
each window: a job catching up after a day without any story process (1440 one-minute
buckets) is done in seconds, not minutes, and keeps what it did if it stops half-way.
Live rows need no cleanup: they carry a TTL, and reads filter on expire_time.
"""

from __future__ import annotations

import asyncio
import logging

from services.story.clock import Clock
from services.story.model import StoryRecord
from services.story.store import StoryStore

log = logging.getLogger(__name__)

JOB = "archive"
WINDOW = 256  # buckets per checkpoint save
SCAN_CONCURRENCY = 16  # bucket reads in flight


class ArchiveJob:
    def __init__(self, store: StoryStore, interval_seconds: float, lookback_seconds: int,
                 clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval_seconds
        self._lookback_ms = lookback_seconds * 1000

    async def run_once(self, now_ms: int | None = None) -> int:
        """One pass; returns the number of stories archived."""
        now = now_ms if now_ms is not None else self._clock.now_ms()
        current = self._store.bucket_of(now)
        start = await self._store.checkpoint(JOB)
        if start is None:
            start = self._store.bucket_of(now - self._lookback_ms)
        archived = 0
        done = start
        limit = asyncio.Semaphore(SCAN_CONCURRENCY)

        async def expired(bucket: int) -> list[StoryRecord]:
            async with limit:
                return await self._store.expired_in_bucket(bucket, now)

        for first in range(start, current + 1, WINDOW):
            buckets = range(first, min(first + WINDOW, current + 1))
            for stories in await asyncio.gather(*(expired(b) for b in buckets)):
                for story in stories:
                    if await self._store.deleted_by(story.story_id) is None:
                        await self._store.archive(story)
                        archived += 1
            over = [b + 1 for b in buckets if self._store.bucket_end_ms(b) <= now]
            if over and over[-1] != done:
                done = over[-1]
                await self._store.set_checkpoint(JOB, done)
        return archived

    async def run(self) -> None:
        while True:
            try:
                count = await self.run_once()
                if count:
                    log.info("archived %d expired stories", count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried next round
                log.warning("archive pass failed, retrying: %r", exc)
            await asyncio.sleep(self._interval)
