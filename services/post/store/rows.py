"""What the post service's CQL stores share (schema in ../migrations/): batches, counts
and the request-id claims that make creates idempotent.

Rows that decide an outcome between concurrent callers (a request id, a media claim) are
written with lightweight transactions. A like is decided without one: its row is keyed by
(post, user), so writing it twice changes nothing, and one user's concurrent calls are
ordered by a lock in Redis (like_sets.py). Rows derived from a decision (the likers list,
the caller's liked set) are written with or after it and re-written by a retry, so a call
that failed half-way heals on its retry. Counts are the sizes of single partitions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from cassandra.query import BatchStatement, BatchType

from services.post.model import Claim, Mention
from services.runtime.cql import CqlStore, applied

# Clustering-key IN lists stay within ScyllaDB's default restriction (100).
IN_CHUNK = 100


def mentions_of(ids: Sequence[uuid.UUID] | None, names: Sequence[str] | None
                ) -> tuple[Mention, ...]:
    return tuple(Mention(str(i), n) for i, n in zip(ids or (), names or (), strict=False))


class Rows:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    async def _batch(self, statements: Iterable[tuple[str, Sequence[object]]], *,
                     logged: bool = True) -> None:
        """One batch. Logged (the default): all of it is applied or, after a failure, none
        is visible to a retry that writes it again. Unlogged: for idempotent rows a retry
        re-writes anyway (no batch log round, about half the store's work)."""
        batch = BatchStatement(batch_type=BatchType.LOGGED if logged else BatchType.UNLOGGED)
        for cql, params in statements:
            batch.add(await self._cql.prepare(cql), params)
        await self._cql.execute(batch)

    async def _count(self, cql: str, params: Sequence[object]) -> int:
        rows = await self._cql.execute(cql, params)
        return int(rows[0]["count"]) if rows else 0

    async def _claim(self, table: str, column: str, author_id: str, request_id: str,
                     target_id: int, fingerprint: str) -> Claim:
        rows = await self._cql.execute(
            f"INSERT INTO {table} (author_id, request_id, {column}, fingerprint) "
            f"VALUES (?, ?, ?, ?) IF NOT EXISTS",
            (uuid.UUID(author_id), request_id, target_id, fingerprint))
        if applied(rows):
            return Claim(True, target_id, fingerprint)
        return Claim(False, rows[0][column], rows[0]["fingerprint"] or "")
