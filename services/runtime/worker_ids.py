"""Snowflake worker ids leased from the CQL store (``PHOTOMESH_SNOWFLAKE_WORKER_ID=lease``).

A pod of a Kubernetes Deployment has nothing stable and unique to derive a worker id from:
its name is random, IPs are reused, and replicas come and go with the autoscaler. So each
process leases a free id 0..1023 in ``snowflake_worker_leases`` (services/runtime/schema)
with lightweight transactions, and keeps it while it runs.

Per worker id the table holds two things:

* ``holder``: who has the id now. Written with a TTL, only by conditional writes: a claim
  (``IF holder = null``), a renewal (``IF holder = <me>``) or a release. Lightweight
  transactions are linearizable, so an id has at most one holder at a time; a holder that
  stops renewing (crashed, partitioned) loses it when the TTL runs out.
* ``fence_ms``: written without TTL, with every claim and renewal: the newest Unix
  millisecond the holder may put into an id (its clock at the renewal plus the TTL). A
  holder never makes an id past the last fence it wrote; the next holder never makes one
  at or before the fence it found. The two holders' ids can therefore never repeat, even
  when the old holder is still running (paused, cut off from the store) after its lease ran
  out, and whatever their clocks say.

Renewals run every quarter of the TTL. When they fail the process keeps its ids until its
fence passes (then calls that need a new id get UNAVAILABLE); when it finds its lease taken
or gone it raises `LeaseLost`, which stops the process (services/runtime/server.py: a dead
background task exits so it is restarted) and Kubernetes starts it again with a new id. A
clean shutdown releases the id and lowers its fence to the last millisecond actually used,
so the id is free again at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cassandra import ConsistencyLevel, DriverException, RequestExecutionException, WriteTimeout
from cassandra.cluster import NoHostAvailable

from services.runtime import migrations
from services.runtime.cql import CqlStore, Params, Row, applied
from services.runtime.ids import MAX_WORKER, Snowflake

log = logging.getLogger(__name__)

#: The pseudo-service whose schema (services/runtime/schema) holds the lease table.
SCHEMA = migrations.RUNTIME

#: Failures of the store that leave a renewal's outcome open: try again at the next tick.
STORE_ERRORS = (RequestExecutionException, DriverException, NoHostAvailable, OSError,
                asyncio.TimeoutError)

TABLE = "snowflake_worker_leases"
SCAN = f"SELECT worker_id, holder, fence_ms FROM {TABLE}"
READ = f"SELECT holder, fence_ms FROM {TABLE} WHERE worker_id = ?"
CLAIM = (f"BEGIN BATCH "
         f"UPDATE {TABLE} USING TTL ? SET holder = ? WHERE worker_id = ? "
         f"IF holder = null AND fence_ms = ?; "
         f"UPDATE {TABLE} SET fence_ms = ? WHERE worker_id = ?; "
         f"APPLY BATCH")
RENEW = (f"BEGIN BATCH "
         f"UPDATE {TABLE} USING TTL ? SET holder = ? WHERE worker_id = ? IF holder = ?; "
         f"UPDATE {TABLE} SET fence_ms = ? WHERE worker_id = ?; "
         f"APPLY BATCH")
RELEASE = (f"BEGIN BATCH "
           f"UPDATE {TABLE} SET holder = null WHERE worker_id = ? IF holder = ?; "
           f"UPDATE {TABLE} SET fence_ms = ? WHERE worker_id = ?; "
           f"APPLY BATCH")


class NoFreeWorkerId(RuntimeError):
    """Every worker id is held by a live process."""


class LeaseLost(RuntimeError):
    """Another process holds this process's worker id now, or nobody does: stop."""


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def holder_name() -> str:
    """Who holds a lease: the host (the pod name in Kubernetes), the pid, and a random part
    that tells a restarted process from its predecessor."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


@dataclass
class WorkerIdLease:
    """One process's lease of one worker id; `snowflake` makes its ids."""

    store: CqlStore
    worker_id: int
    holder: str
    ttl_seconds: int
    fence_ms: int
    snowflake: Snowflake

    @property
    def renew_every(self) -> float:
        return self.ttl_seconds / 4

    @classmethod
    async def claim(cls, store: CqlStore, ttl_seconds: int, holder: str | None = None,
                    worker_ids: Sequence[int] = range(MAX_WORKER + 1)) -> WorkerIdLease:
        """Lease a free worker id; NoFreeWorkerId if every id in `worker_ids` is held.

        Ids never used and ids released long ago are tried first, in random order (so
        processes starting together rarely contend); ids whose fence is still ahead of the
        clock come last (their holder stopped a moment ago), and taking one waits until the
        clock has passed its fence.
        """
        await migrations.require_current(store, SCHEMA)
        holder = holder or holder_name()
        now = _wall_ms()
        rows = {row["worker_id"]: row for row in await store.execute(SCAN)}
        fresh, fenced = [], []
        for worker_id in worker_ids:
            row = rows.get(worker_id)
            if row is None or (row["holder"] is None and (row["fence_ms"] or 0) < now):
                fresh.append(worker_id)
            elif row["holder"] is None:
                fenced.append(worker_id)
        random.shuffle(fresh)
        fenced.sort(key=lambda i: rows[i]["fence_ms"])
        for worker_id in fresh + fenced:
            lease = await cls._try(store, worker_id, holder, ttl_seconds)
            if lease is not None:
                log.info("leased Snowflake worker id %d as %s (ttl %ds)", worker_id, holder,
                         ttl_seconds)
                return lease
        raise NoFreeWorkerId(f"all {len(worker_ids)} Snowflake worker ids are leased by live "
                             f"processes")

    @classmethod
    async def _try(cls, store: CqlStore, worker_id: int, holder: str,
                   ttl_seconds: int) -> WorkerIdLease | None:
        found = await _serial(store, READ, (worker_id,))
        if found and found[0]["holder"] is not None:
            return None
        seen_fence = found[0]["fence_ms"] if found else None
        fence = max(_wall_ms(), seen_fence or 0) + ttl_seconds * 1000
        try:
            rows = await _serial(store, CLAIM, (ttl_seconds, holder, worker_id, seen_fence,
                                                fence, worker_id))
            won = applied(rows)
        except WriteTimeout:
            # The transaction's outcome is unknown: a serial read settles it.
            again = await _serial(store, READ, (worker_id,))
            won = bool(again) and again[0]["holder"] == holder
            if won:
                fence = again[0]["fence_ms"]
        if not won:
            return None
        if seen_fence is not None:
            # The previous holder may have made ids up to its fence by its own clock.
            wait_ms = seen_fence - _wall_ms() + 1
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
        snowflake = Snowflake(worker_id)
        snowflake.limit(after_ms=seen_fence or 0, until_ms=fence)
        return cls(store, worker_id, holder, ttl_seconds, fence, snowflake)

    async def renew(self) -> int:
        """Extend the lease and the fence; returns the new fence. LeaseLost if another
        process holds the id now or the lease had lapsed; store errors pass through."""
        fence = max(self.fence_ms, _wall_ms() + self.ttl_seconds * 1000)
        params = (self.ttl_seconds, self.holder, self.worker_id, self.holder, fence,
                  self.worker_id)
        try:
            rows = await _serial(self.store, RENEW, params)
            ok = applied(rows)
        except WriteTimeout:
            again = await _serial(self.store, READ, (self.worker_id,))
            ok = bool(again) and again[0]["holder"] == self.holder
            fence = self.fence_ms  # what the store has may be either; keep the safe one
        if not ok:
            raise LeaseLost(f"Snowflake worker id {self.worker_id} is no longer leased by "
                            f"{self.holder}")
        self.fence_ms = fence
        self.snowflake.extend(fence)
        return fence

    async def keep(self) -> None:
        """Renew until cancelled; raises LeaseLost when the lease is gone (the process must
        then stop). Store failures are logged and retried at the next tick."""
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await self.renew()
            except STORE_ERRORS as exc:
                log.warning("renewing Snowflake worker id %d failed (%r); ids are made until "
                            "%d", self.worker_id, exc, self.fence_ms)

    async def release(self) -> None:
        """Stop making ids and free the id for the next process (best effort: if this
        fails, the id frees itself when its TTL runs out)."""
        last_ms = self.snowflake.close()
        try:
            await _serial(self.store, RELEASE, (self.worker_id, self.holder, last_ms,
                                                self.worker_id))
        except STORE_ERRORS as exc:
            log.warning("releasing Snowflake worker id %d failed (%r); it lapses in %ds",
                        self.worker_id, exc, self.ttl_seconds)


async def _serial(store: CqlStore, cql: str, params: Params) -> list[Row]:
    """A read or conditional write whose reads see every committed transaction: reads at
    the store's serial consistency (LOCAL_SERIAL by default), writes with it as the
    transaction's serial level."""
    prepared = await store.prepare(cql)
    bound = prepared.bind(params or ())
    serial = ConsistencyLevel.name_to_value[store.settings.serial_consistency]
    if cql.lstrip().upper().startswith("SELECT"):
        bound.consistency_level = serial
    else:
        bound.serial_consistency_level = serial
    return await store.execute(bound)
