"""The indexer's engagement rules as pure logic (in-memory stand-ins for its store, its
engagement keys and its social view; the real ones are covered by test_explore.py): only
an indexed post of a public account trends, and an engagement that raced a deletion
clears the lists the deletion cleared before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from photomesh.common.v1.user_pb2 import UserSummary

from services.discovery.engagement import member
from services.discovery.indexer import Indexer
from services.discovery.model import IndexedPost

AUTHOR = "7d0a6c1e-3f0b-4c4e-9a3e-1b2c3d4e5f60"
POST = 42


def _indexed(deleted: bool = False) -> IndexedPost:
    return IndexedPost(POST, AUTHOR, ("sunset",), frozenset({"#sunset"}), b"card", deleted)


@dataclass
class Store:
    """Answers `post` from a script: one answer per read, the last one repeated."""

    answers: list[IndexedPost | None]
    reads: int = 0

    async def post(self, post_id: int) -> IndexedPost | None:
        answer = self.answers[min(self.reads, len(self.answers) - 1)]
        self.reads += 1
        return answer


@dataclass
class Engagement:
    engaged: list[dict[str, Any]] = field(default_factory=list)
    forgotten: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)

    async def engage(self, marker: str, post_id: int, field: str, delta: int,
                     **kwargs: Any) -> bool:
        self.engaged.append({"post_id": post_id, "field": field, **kwargs})
        return True

    async def forget(self, post_id: int, author_id: str, tags: tuple[str, ...]) -> None:
        self.forgotten.append((post_id, author_id, tuple(tags)))


class View:
    def __init__(self, private: bool = False) -> None:
        self._private = private

    async def summaries(self, user_ids: Any) -> dict[str, UserSummary]:
        return {u: UserSummary(user_id=u, private=self._private) for u in user_ids}


def _indexer(store: Store, engagement: Engagement, private: bool = False) -> Indexer:
    return Indexer(store, engagement, View(private), None)  # type: ignore[arg-type]


async def test_an_indexed_public_post_trends() -> None:
    engagement = Engagement()
    await _indexer(Store([_indexed()]), engagement)._engage("e1", POST, AUTHOR, "l", 1, 1.0)
    [call] = engagement.engaged
    assert call["trending_member"] == member(POST, AUTHOR)
    assert call["tags"] == ("sunset",)
    assert engagement.forgotten == []


async def test_a_post_not_indexed_yet_is_counted_but_does_not_trend() -> None:
    engagement = Engagement()
    await _indexer(Store([None]), engagement)._engage("e1", POST, AUTHOR, "l", 1, 1.0)
    [call] = engagement.engaged
    assert call["trending_member"] is None and call["field"] == "l"


async def test_a_private_accounts_post_does_not_trend() -> None:
    engagement = Engagement()
    await _indexer(Store([_indexed()]), engagement, private=True)._engage(
        "e1", POST, AUTHOR, "c", 1, 1.0)
    assert engagement.engaged[0]["trending_member"] is None


async def test_an_engagement_that_raced_a_deletion_clears_the_lists_again() -> None:
    engagement = Engagement()
    # Read alive before the write; deleted (marked by the deletion) when read after it.
    await _indexer(Store([_indexed(), _indexed(deleted=True)]), engagement)._engage(
        "e1", POST, AUTHOR, "l", 1, 1.0)
    assert len(engagement.engaged) == 1
    assert engagement.forgotten == [(POST, AUTHOR, ("sunset",))]


async def test_a_deleted_post_is_not_engaged() -> None:
    engagement = Engagement()
    await _indexer(Store([_indexed(deleted=True)]), engagement)._engage(
        "e1", POST, AUTHOR, "l", 1, 1.0)
    assert engagement.engaged == [] and engagement.forgotten == []
