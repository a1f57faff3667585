"""The other bulk path, measured for the choice: prepared writes through the driver.

Rows shaped as graph_followers rows (a partition per followee, 100 followers each) go into
a scratch copy of that table in the same keyspace, as unlogged batches of one partition
(the cheap kind of batch) and as single prepared INSERTs, many in flight at once
(`execute_concurrent`), at consistency ONE, for a few seconds each; rows/s, then the
scratch table is dropped. Both load the node's CPU, which SSTables written apart do not.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

SCRATCH = "bulk_probe_followers"


def _rows(seconds: float, started: float) -> Iterator[tuple[uuid.UUID, int, uuid.UUID]]:
    i = 0
    while time.monotonic() - started < seconds:
        followee = uuid.uuid4()
        for _ in range(100):
            yield followee, 1_700_000_000_000 + i, uuid.uuid4()
            i += 1


def probe(session: Any, keyspace: str, seconds: float = 10.0,
          concurrency: int = 128) -> dict[str, Any]:
    from cassandra import ConsistencyLevel
    from cassandra.concurrent import execute_concurrent
    from cassandra.query import BatchStatement, BatchType

    session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.{SCRATCH} (user_id uuid, "
                    f"followed_at timestamp, follower_id uuid, PRIMARY KEY ((user_id), "
                    f"followed_at, follower_id))", timeout=120)
    insert = session.prepare(f"INSERT INTO {keyspace}.{SCRATCH} (user_id, followed_at, "
                             f"follower_id) VALUES (?, ?, ?)")
    insert.consistency_level = ConsistencyLevel.ONE
    results: dict[str, Any] = {"seconds_each": seconds, "concurrency": concurrency}
    try:
        started = time.monotonic()
        count = 0

        def singles() -> Iterator[tuple[Any, tuple[Any, ...]]]:
            nonlocal count
            for row in _rows(seconds, started):
                count += 1
                yield insert, row
        for _ in execute_concurrent(session, singles(), concurrency=concurrency,
                                    raise_on_first_error=True, results_generator=True):
            pass
        results["single_inserts_rows_per_s"] = round(count / (time.monotonic() - started))

        started = time.monotonic()
        count = 0

        def batches() -> Iterator[tuple[Any, tuple[Any, ...]]]:
            nonlocal count
            batch, key = None, None
            for row in _rows(seconds, started):
                if batch is None or row[0] != key:
                    if batch is not None:
                        yield batch, ()
                    batch = BatchStatement(batch_type=BatchType.UNLOGGED,
                                           consistency_level=ConsistencyLevel.ONE)
                    key = row[0]
                batch.add(insert, row)
                count += 1
            if batch is not None:
                yield batch, ()
        for _ in execute_concurrent(session, batches(), concurrency=max(8, concurrency // 8),
                                    raise_on_first_error=True, results_generator=True):
            pass
        results["partition_batches_rows_per_s"] = round(count / (time.monotonic() - started))
    finally:
        session.execute(f"DROP TABLE IF EXISTS {keyspace}.{SCRATCH}", timeout=120)
    return results


__all__ = ["probe"]
