"""Close friends lists: who may see an author's close-friends stories."""

from __future__ import annotations

from collections.abc import Sequence

from photomesh.common.v1.user_pb2 import UserSummary

from services.peers.social_view import SocialView
from services.runtime.clock import now_ms
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.pagination import PageTokens, page_size
from services.runtime.validation import uuid_batch
from services.story.cache import StoryCache
from services.story.store import StoryStore

MAX_PER_CALL = 100


class CloseFriends:
    def __init__(self, store: StoryStore, cache: StoryCache, graph: SocialView,
                 tokens: PageTokens) -> None:
        self._store = store
        self._tokens = tokens
        self._cache = cache
        self._graph = graph

    async def owners_including(self, owner_ids: Sequence[str], viewer_id: str) -> set[str]:
        """Which of `owner_ids` have `viewer_id` on their close friends list."""
        if not owner_ids:
            return set()
        members, cold = await self._cache.close_friend_of(owner_ids, viewer_id)
        for owner in cold:
            friends = await self._store.close_friend_ids(owner)
            await self._cache.rebuild_close_friends(owner, friends)
            if viewer_id in friends:
                members.add(owner)
        return members

    async def update(self, owner_id: str, add: Sequence[str], remove: Sequence[str]) -> int:
        add = uuid_batch("add_user_ids", add, MAX_PER_CALL)
        remove = uuid_batch("remove_user_ids", remove, MAX_PER_CALL)
        if owner_id in add:
            raise InvalidArgument(FieldViolation("add_user_ids", "you cannot add yourself"),
                                  reason="SELF_RELATIONSHIP")
        adding = [u for u in dict.fromkeys(add) if u not in set(remove)]
        if adding:
            found = await self._graph.summaries(adding)
            missing = [u for u in adding if u not in found]
            if missing:
                raise NotFound(f"no such user: {missing[0]}", reason="USER_NOT_FOUND",
                               metadata={"user_id": missing[0]})
        added_ms = now_ms()
        for user_id in adding:
            await self._store.add_close_friend(owner_id, user_id, added_ms)
        for user_id in dict.fromkeys(remove):
            await self._store.remove_close_friend(owner_id, user_id)
        await self._cache.drop_close_friends(owner_id)
        return await self._store.close_friend_count(owner_id)

    async def page(self, owner_id: str, requested_size: int, token: str
                   ) -> tuple[list[tuple[UserSummary, int]], str]:
        """A page of the owner's close friends (with when each was added) and the next
        page's token."""
        scope = "story.ListCloseFriends"
        cursor = self._tokens.open(token, scope=scope, viewer=owner_id)
        friends, state = await self._store.close_friends_page(
            owner_id, page_size(requested_size), cursor.paging_state or None if cursor else None)
        found = await self._graph.summaries(f.user_id for f in friends)
        return ([(found.get(f.user_id) or UserSummary(user_id=f.user_id), f.add_ms)
                 for f in friends], self._tokens.seal_state(state, scope=scope, viewer=owner_id))
