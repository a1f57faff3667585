"""The archive job: moves expired stories into their author's private archive.

Runs in every story process (copies are harmless: archiving is an idempotent upsert).
It walks the expiry index bucket by bucket from its checkpoint to now, archives each story
whose expire_time has passed, and advances the checkpoint past every bucket that is over.
Live rows need no cleanup: they carry a TTL, and reads filter on expire_time.
"""

from __future__ import annotations

import asyncio
import logging
import time

from services.story.store import StoryStore

log = logging.getLogger(__name__)

JOB = "archive"


class ArchiveJob:
    def __init__(self, store: StoryStore, interval_seconds: float, lookback_seconds: int
                 ) -> None:
        self._store = store
        self._interval = interval_seconds
        self._lookback_ms = lookback_seconds * 1000

    async def run_once(self, now_ms: int | None = None) -> int:
        """One pass; returns the number of stories archived."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        current = self._store.bucket_of(now)
        start = await self._store.checkpoint(JOB)
        if start is None:
            start = self._store.bucket_of(now - self._lookback_ms)
        archived = 0
        done = start
        for bucket in range(start, current + 1):
            for story in await self._store.expired_in_bucket(bucket, now):
                if await self._store.deleted_by(story.story_id) is None:
                    await self._store.archive(story)
                    archived += 1
            if self._store.bucket_end_ms(bucket) <= now:
                done = bucket + 1
        if done != start:
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
