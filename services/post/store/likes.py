"""CQL rows of likes on posts and comments: the like (the truth, keyed by post or comment
and user), the likers list and each user's liked set."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from services.post.model import LikeRow, LikeState
from services.post.store.rows import IN_CHUNK, Rows
from services.runtime.clock import utc
from services.runtime.cql import applied


class LikeRows(Rows):
    async def get_like(self, post_id: int, user_id: str) -> LikeState | None:
        rows = await self._cql.execute(
            "SELECT like_id, like_time, published, unliked FROM post_likes "
            "WHERE post_id = ? AND user_id = ?", (post_id, uuid.UUID(user_id)))
        if not rows or rows[0]["like_id"] is None:
            return None
        row = rows[0]
        return LikeState(LikeRow(row["like_id"], user_id, utc(row["like_time"])),
                         published=bool(row["published"]), unliked=bool(row["unliked"]))

    def _like_rows(self, post_id: int, like: LikeRow) -> list[tuple[str, Sequence[object]]]:
        user = uuid.UUID(like.user_id)
        return [
            ("INSERT INTO post_likers (post_id, like_id, user_id, like_time) VALUES (?, ?, ?, ?)",
             (post_id, like.like_id, user, like.like_time)),
            ("INSERT INTO post_user_likes (user_id, post_id, like_time) VALUES (?, ?, ?)",
             (user, post_id, like.like_time)),
        ]

    async def insert_like(self, post_id: int, like: LikeRow) -> None:
        """The like and the rows derived from it, in one unlogged batch (a retry that finds
        the like row re-writes the others: `add_liker`)."""
        await self._batch([
            ("INSERT INTO post_likes (post_id, user_id, like_id, like_time, published, "
             "unliked) VALUES (?, ?, ?, ?, false, false)",
             (post_id, uuid.UUID(like.user_id), like.like_id, like.like_time)),
            *self._like_rows(post_id, like)], logged=False)

    async def insert_like_if_absent(self, post_id: int, like: LikeRow) -> LikeState | None:
        """Without Redis (no lock to serialise a user's calls): claim the like row with a
        lightweight transaction; the row found if there was one."""
        rows = await self._cql.execute(
            "INSERT INTO post_likes (post_id, user_id, like_id, like_time, published, unliked) "
            "VALUES (?, ?, ?, ?, false, false) IF NOT EXISTS",
            (post_id, uuid.UUID(like.user_id), like.like_id, like.like_time))
        if applied(rows):
            await self.add_liker(post_id, like)
            return None
        row = rows[0]
        return LikeState(LikeRow(row["like_id"], like.user_id, utc(row["like_time"])),
                         published=bool(row["published"]), unliked=bool(row["unliked"]))

    async def add_liker(self, post_id: int, like: LikeRow) -> None:
        """The rows derived from a like (likers list, the user's liked set); idempotent."""
        await self._batch(self._like_rows(post_id, like), logged=False)

    async def mark_like_published(self, post_id: int, user_id: str) -> None:
        await self._cql.execute(
            "UPDATE post_likes SET published = true WHERE post_id = ? AND user_id = ?",
            (post_id, uuid.UUID(user_id)))

    async def mark_unliked(self, post_id: int, like: LikeRow) -> None:
        """The first step of an unlike: the like stops counting and leaves the likers list
        and the user's liked set; its row stays (marked) until the event is out."""
        user = uuid.UUID(like.user_id)
        await self._batch([
            ("UPDATE post_likes SET unliked = true WHERE post_id = ? AND user_id = ?",
             (post_id, user)),
            ("DELETE FROM post_likers WHERE post_id = ? AND like_id = ?", (post_id, like.like_id)),
            ("DELETE FROM post_user_likes WHERE user_id = ? AND post_id = ?", (user, post_id)),
        ], logged=False)

    async def delete_like(self, post_id: int, user_id: str) -> None:
        """The last step of an unlike (its event is out)."""
        await self._cql.execute("DELETE FROM post_likes WHERE post_id = ? AND user_id = ?",
                                (post_id, uuid.UUID(user_id)))

    async def like_members(self, post_id: int, page_size: int = 5000
                           ) -> AsyncIterator[list[tuple[str, str]]]:
        """Pages of (user id, like id) of the live likes of a post; ``?`` follows the id of
        a like whose event is not known to be out."""
        state = None
        while True:
            rows, state = await self._cql.execute_page(
                "SELECT user_id, like_id, published, unliked FROM post_likes WHERE post_id = ?",
                (post_id,), page_size=page_size, paging_state=state)
            yield [(str(r["user_id"]), f"{r['like_id']}{'' if r['published'] else '?'}")
                   for r in rows if not r["unliked"]]
            if not state:
                return

    async def liked_post_ids(self, user_id: str, post_ids: Sequence[int]) -> set[int]:
        """Which of `post_ids` the user liked: one partition, IN over the clustering key."""
        user = uuid.UUID(user_id)
        chunks = [list(post_ids[i:i + IN_CHUNK]) for i in range(0, len(post_ids), IN_CHUNK)]
        results = await asyncio.gather(*(self._cql.execute(
            "SELECT post_id FROM post_user_likes WHERE user_id = ? AND post_id IN ?",
            (user, chunk)) for chunk in chunks))
        return {r["post_id"] for rows in results for r in rows}

    async def list_likers(self, post_id: int, limit: int, before_like_id: int | None
                          ) -> list[LikeRow]:
        if before_like_id is None:
            rows = await self._cql.execute(
                "SELECT like_id, user_id, like_time FROM post_likers WHERE post_id = ? LIMIT ?",
                (post_id, limit))
        else:
            rows = await self._cql.execute(
                "SELECT like_id, user_id, like_time FROM post_likers WHERE post_id = ? "
                "AND like_id < ? LIMIT ?", (post_id, before_like_id, limit))
        return [LikeRow(r["like_id"], str(r["user_id"]), utc(r["like_time"])) for r in rows]

    async def count_likes(self, post_id: int) -> int:
        """Live likes of a post (rows being unliked are not counted)."""
        total = await self._count("SELECT COUNT(*) AS count FROM post_likes WHERE post_id = ?",
                                  (post_id,))
        leaving = await self._count("SELECT COUNT(*) AS count FROM post_likes WHERE post_id = ? "
                                    "AND unliked = true ALLOW FILTERING", (post_id,))
        return total - leaving

    async def insert_comment_like(self, comment_id: int, user_id: str, now: datetime) -> None:
        """Idempotent (written under the caller's lock, like_sets.py)."""
        await self._cql.execute(
            "INSERT INTO post_comment_likes (comment_id, user_id, like_time) VALUES (?, ?, ?)",
            (comment_id, uuid.UUID(user_id), now))

    async def insert_comment_like_if_absent(self, comment_id: int, user_id: str,
                                            now: datetime) -> None:
        """Without Redis (no lock): a lightweight transaction keeps the first like's time."""
        await self._cql.execute(
            "INSERT INTO post_comment_likes (comment_id, user_id, like_time) VALUES (?, ?, ?) "
            "IF NOT EXISTS", (comment_id, uuid.UUID(user_id), now))

    async def delete_comment_like(self, comment_id: int, user_id: str) -> None:
        await self._cql.execute(
            "DELETE FROM post_comment_likes WHERE comment_id = ? AND user_id = ?",
            (comment_id, uuid.UUID(user_id)))

    async def comment_like_members(self, comment_id: int, page_size: int = 5000
                                   ) -> AsyncIterator[list[tuple[str, str]]]:
        """Pages of (user id, "1") of the likes of a comment."""
        state = None
        while True:
            rows, state = await self._cql.execute_page(
                "SELECT user_id FROM post_comment_likes WHERE comment_id = ?", (comment_id,),
                page_size=page_size, paging_state=state)
            yield [(str(r["user_id"]), "1") for r in rows]
            if not state:
                return

    async def liked_comment_ids(self, user_id: str, comment_ids: Sequence[int]) -> set[int]:
        user = uuid.UUID(user_id)
        results = await asyncio.gather(*(self._cql.execute(
            "SELECT comment_id FROM post_comment_likes WHERE comment_id = ? AND user_id = ?",
            (cid, user)) for cid in comment_ids))
        return {r["comment_id"] for rows in results for r in rows}

    async def count_comment_likes(self, comment_id: int) -> int:
        return await self._count(
            "SELECT COUNT(*) AS count FROM post_comment_likes WHERE comment_id = ?",
            (comment_id,))

