"""Search rules: hashtag posts (recent and top), hashtag autocomplete, caption words.

Validation raises INVALID_ARGUMENT with field violations; page tokens are sealed here,
bound to the list (hashtag or query, order) and the viewer."""

from __future__ import annotations

from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.post.v1 import post_service_pb2 as post_pb

from services.discovery import listing, text
from services.discovery.cards import Cards
from services.discovery.engagement import Engagement
from services.discovery.settings import DiscoverySettings
from services.discovery.snapshots import Snapshots, expired
from services.discovery.store import IndexStore
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.pagination import PageTokens, page_size

RECENT, TOP = "recent", "top"
AUTOCOMPLETE_DEFAULT = 10
AUTOCOMPLETE_MAX = 50


@dataclass(frozen=True)
class PostPage:
    posts: list[post_pb.Post]
    next_page_token: str


def _hashtag(field: str, raw: str) -> str:
    folded = text.hashtag(raw.strip())
    if not text.valid_hashtag(folded):
        raise InvalidArgument(FieldViolation(
            field, "required: 1-100 letters, digits or '_' (a leading '#' is allowed)"))
    return folded


class Search:
    def __init__(self, store: IndexStore, cards: Cards, engagement: Engagement,
                 snapshots: Snapshots, tokens: PageTokens, settings: DiscoverySettings) -> None:
        self._store = store
        self._cards = cards
        self._engagement = engagement
        self._snapshots = snapshots
        self._tokens = tokens
        self._settings = settings

    def _size(self, requested: int) -> int:
        return page_size(requested, maximum=self._settings.max_page_size)

    async def hashtag_posts(self, viewer_id: str, hashtag: str, top: bool, requested: int,
                            token: str) -> PostPage:
        tag = _hashtag("hashtag", hashtag)
        size = self._size(requested)
        scope = f"discovery.ListHashtagPosts/{tag}/{TOP if top else RECENT}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer_id)
        if not top:
            return await self._scan(viewer_id, text.hashtag_term(tag), (), size, scope, cursor)
        if cursor is None:
            snapshot_id = await self._snapshots.save(await self._engagement.top_posts(tag))
            offset = 0
        else:
            snapshot_id, offset = cursor.snapshot_id, int(cursor.offset)
        sliced = await listing.snapshot_page(
            self._snapshots, snapshot_id, offset, size, self._settings.scan_rounds,
            lambda ids: self._cards.show(viewer_id, ids))
        if sliced is None:
            if cursor is None:  # no top posts: an empty snapshot stores nothing
                return PostPage([], "")
            raise expired()
        next_token = "" if sliced.offset is None else self._tokens.seal(
            PageTokenPayload(snapshot_id=snapshot_id, offset=sliced.offset), scope=scope,
            viewer=viewer_id)
        return PostPage([p for p, _ in sliced.items], next_token)

    async def posts(self, viewer_id: str, query: str, requested: int, token: str) -> PostPage:
        if len(query) > text.MAX_QUERY:
            raise InvalidArgument(FieldViolation(
                "query", f"at most {text.MAX_QUERY} characters (got {len(query)})"))
        stems = text.words(query)
        if not stems:
            raise InvalidArgument(FieldViolation(
                "query", "required: at least one word of 2 or more letters or digits "
                         "(very common words such as 'the' are not searched)"))
        if len(stems) > text.MAX_QUERY_WORDS:
            raise InvalidArgument(FieldViolation(
                "query", f"at most {text.MAX_QUERY_WORDS} words (got {len(stems)})"))
        size = self._size(requested)
        scope = "discovery.SearchPosts/" + " ".join(sorted(stems))
        cursor = self._tokens.open(token, scope=scope, viewer=viewer_id)
        # The longest stem is likely the rarest: its posting list is scanned, the others
        # are checked on each post's terms.
        lead = max(stems, key=len)
        return await self._scan(viewer_id, lead, stems, size, scope, cursor)

    async def _scan(self, viewer_id: str, term: str, all_terms: list[str] | tuple[()],
                    size: int, scope: str, cursor: PageTokenPayload | None) -> PostPage:
        scanned = await listing.scan_term(
            self._store, self._cards, viewer_id, term, size,
            int(cursor.last_id) if cursor else None, self._settings.scan_rounds,
            all_terms=all_terms)
        next_token = "" if scanned.cursor is None else self._tokens.seal(
            PageTokenPayload(last_id=scanned.cursor), scope=scope, viewer=viewer_id)
        return PostPage(scanned.posts, next_token)

    async def hashtags(self, prefix: str, requested: int) -> list[tuple[str, int]]:
        folded = _hashtag("prefix", prefix)
        size = page_size(requested, default=AUTOCOMPLETE_DEFAULT, maximum=AUTOCOMPLETE_MAX)
        return await self._engagement.autocomplete(folded, size)
