"""Story views: who saw what, exactly once per viewer."""

from __future__ import annotations

from collections.abc import Sequence

from services.story.cache import StoryCache
from services.story.model import StoryRecord, Viewer
from services.story.store import StoryStore


class Views:
    def __init__(self, store: StoryStore, cache: StoryCache) -> None:
        self._store = store
        self._cache = cache

    async def mark(self, story: StoryRecord, viewer_id: str, now_ms: int) -> bool:
        """Record a view (idempotent); True if it was the viewer's first."""
        first, _ = await self._store.record_view(story, viewer_id, now_ms)
        await self._cache.mark_seen(viewer_id, story.story_id)
        return first

    async def seen(self, viewer_id: str, story_ids: Sequence[int]) -> set[int]:
        """Which of `story_ids` the viewer has seen (the seen set, rebuilt when cold)."""
        if not story_ids:
            return set()
        found = await self._cache.seen(viewer_id, story_ids)
        if found is None:
            all_seen = await self._store.seen_story_ids(viewer_id)
            await self._cache.rebuild_seen(viewer_id, all_seen)
            found = set(all_seen).intersection(story_ids)
        return found

    async def count(self, story_id: int) -> int:
        return await self._store.view_count(story_id)

    async def page(self, story_id: int, page_size: int, paging_state: bytes | None
                   ) -> tuple[list[Viewer], bytes | None]:
        return await self._store.viewers_page(story_id, page_size, paging_state)
