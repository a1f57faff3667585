"""CQL storage of the discovery service: the inverted index and the indexed posts
(migrations/0001_index.cql). Every write is keyed by post id, so a replayed event writes the
same cells again and nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence

from cassandra.query import BatchStatement, BatchType

from services.discovery.model import Hit, IndexedPost
from services.runtime.cql import CqlStore
from services.runtime.ids import id_time_ms

DAY_MS = 86_400_000
IN_CHUNK = 25  # ids per "post_id IN (...)" read: small, each is a partition the coordinator asks


class IndexStore:
    def __init__(self, cql: CqlStore, *, bucket_days: int) -> None:
        self._cql = cql
        self._bucket_ms = bucket_days * DAY_MS

    def bucket_of(self, post_id: int) -> int:
        return id_time_ms(post_id) // self._bucket_ms

    # --- indexed posts ------------------------------------------------------------------

    async def post(self, post_id: int) -> IndexedPost | None:
        return (await self.posts([post_id])).get(post_id)

    async def posts(self, post_ids: Sequence[int]) -> dict[int, IndexedPost]:
        """The indexed posts among `post_ids`: one ``IN`` read per `IN_CHUNK` ids (a page's
        worth; one driver round trip instead of one per post), chunks at once."""
        if not post_ids:
            return {}
        ids = list(dict.fromkeys(post_ids))
        stmt = await self._cql.prepare(
            "SELECT post_id, author_user_id, hashtags, terms, card, deleted "
            "FROM discovery_posts WHERE post_id IN ?")
        results = await asyncio.gather(*(self._cql.execute(stmt, (ids[i:i + IN_CHUNK],))
                                         for i in range(0, len(ids), IN_CHUNK)))
        found = {}
        for rows in results:
            for r in rows:
                found[r["post_id"]] = IndexedPost(
                    r["post_id"], str(r["author_user_id"]) if r["author_user_id"] else "",
                    tuple(r["hashtags"] or ()), frozenset(r["terms"] or ()), r["card"] or b"",
                    bool(r["deleted"]))
        return found

    async def put_post(self, post: IndexedPost) -> bool:
        """Store a new post unless it was deleted first (True: stored)."""
        rows = await self._cql.execute(
            "INSERT INTO discovery_posts (post_id, author_user_id, hashtags, terms, card, "
            "deleted) VALUES (?, ?, ?, ?, ?, false) IF NOT EXISTS",
            (post.post_id, uuid.UUID(post.author_id), list(post.hashtags), set(post.terms),
             post.card))
        if rows and rows[0].get("[applied]", True):
            return True
        return not bool(rows[0].get("deleted")) if rows else True

    async def mark_deleted(self, post_id: int, author_id: str) -> IndexedPost | None:
        """The post becomes a tombstone; returns what was indexed (None: never seen)."""
        before = await self.post(post_id)
        await self._cql.execute(
            "UPDATE discovery_posts SET deleted = true, card = null, author_user_id = ? "
            "WHERE post_id = ?", (uuid.UUID(author_id), post_id))
        return before

    # --- the posting lists --------------------------------------------------------------

    async def index(self, post_id: int, author_id: str, terms: Iterable[str]) -> None:
        """Rows for each term (and each term's bucket), in one unlogged batch per kind."""
        terms = list(terms)
        if not terms:
            return
        bucket = self.bucket_of(post_id)
        author = uuid.UUID(author_id)
        rows = await self._cql.prepare(
            "INSERT INTO discovery_term_posts (term, bucket, post_id, author_user_id) "
            "VALUES (?, ?, ?, ?)")
        buckets = await self._cql.prepare(
            "INSERT INTO discovery_term_buckets (term, bucket) VALUES (?, ?)")
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for term in terms:
            batch.add(rows, (term, bucket, post_id, author))
            batch.add(buckets, (term, bucket))
        await self._cql.execute(batch)

    async def unindex(self, post_id: int, terms: Iterable[str]) -> None:
        terms = list(terms)
        if not terms:
            return
        bucket = self.bucket_of(post_id)
        stmt = await self._cql.prepare(
            "DELETE FROM discovery_term_posts WHERE term = ? AND bucket = ? AND post_id = ?")
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for term in terms:
            batch.add(stmt, (term, bucket, post_id))
        await self._cql.execute(batch)

    async def buckets(self, term: str, at_most: int) -> list[int]:
        """The buckets of `term` up to `at_most`, newest first."""
        rows = await self._cql.execute(
            "SELECT bucket FROM discovery_term_buckets WHERE term = ? AND bucket <= ?",
            (term, at_most))
        return [r["bucket"] for r in rows]

    async def hits(self, term: str, bucket: int, before: int | None, limit: int) -> list[Hit]:
        """Up to `limit` rows of one partition, newest first, with ids below `before`."""
        if before is None:
            rows = await self._cql.execute(
                "SELECT post_id, author_user_id FROM discovery_term_posts "
                "WHERE term = ? AND bucket = ? LIMIT ?", (term, bucket, limit))
        else:
            rows = await self._cql.execute(
                "SELECT post_id, author_user_id FROM discovery_term_posts "
                "WHERE term = ? AND bucket = ? AND post_id < ? LIMIT ?",
                (term, bucket, before, limit))
        return [Hit(r["post_id"], str(r["author_user_id"])) for r in rows]
