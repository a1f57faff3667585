"""Changes begun but maybe not announced, and the sweeper that announces them.

Events are how the read models learn about changes, so a change whose event did not go out
(the process was killed between the commit and the publish, or NATS was away and the
client gave up) must still be finished, without the client's help. A change records a
*pending* row first (CQL, durable before the change is committed), and deletes it once its
outcome is out:

    async with pending.around("post.like", f"{post_id}:{user_id}"):
        ...commit, publish...

or asks to be looked at later (`begin(kind, subject, delay=...)`: the media service's new
uploads, which expire unless their bytes arrive).

The row names a kind and a subject (what changed), never the event itself: the sweeper
asks the service's *finisher* for that kind to bring the subject's announcement in line
with what is committed (publish what is missing, with the same deterministic message id
and event id as the original, so a duplicate is dropped by JetStream or recognised by
consumers; or nothing, if the change never committed). A finisher returns None when the
subject is settled, or seconds after which to look again (e.g. an upload that may still
arrive).

Rows are kept per owner in time slots of `slot_seconds` (each spread over `SHARDS`
partitions by subject). The sweeper reads each slot once
it is `grace_seconds` old, in order, then records it as swept (``pending_sweeps``); a
subject to look at again is written into a later slot. So each slot is read about once,
and a change in flight is left alone for `grace_seconds`. Every replica sweeps (finishers
are idempotent and safe beside the request they finish).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import Field

from services.runtime.cql import CqlStore
from services.runtime.errors import DomainError, Unavailable
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

Finisher = Callable[[str], Awaitable[float | None]]
FAILED_RETRY_SECONDS = 10.0
SHARDS = 4

# Set while a sweeper's finisher runs: the domain calls it makes to redo a change are not
# recorded as pending again (the row being settled stands for them).
_finishing: contextvars.ContextVar[bool] = contextvars.ContextVar("pending_finishing",
                                                                  default=False)


@dataclass(frozen=True)
class SweepTiming:
    """How a service's pending rows are kept and swept (from its own settings)."""

    slot_seconds: int = 5  # rows are kept in slots this long
    grace_seconds: float = 15.0  # a change is left to its own call this long
    sweep_seconds: float = 2.0  # how often ripe slots are read
    lookback_seconds: int = 600  # where a sweeper with no record starts (rows are only
    # written by processes that sweep, so none is older than the first sweep by much)


class OutboxSettings(ServiceSettings):
    """The sweep timing of a service whose changes are finished by its sweeper (post, graph,
    story: ``PHOTOMESH_<NAME>_OUTBOX_*``); a service's settings class derives from it."""

    outbox_slot_seconds: int = Field(
        default=5, ge=1, le=3600, description="pending changes are kept in time slots this "
                                              "long (services/runtime/pending.py)")
    outbox_grace_seconds: float = Field(
        default=15.0, ge=0, description="a change is left to its own call this long before "
                                        "the sweeper finishes it")
    outbox_sweep_seconds: float = Field(default=2.0, gt=0,
                                        description="how often the sweeper reads ripe slots")

    def sweep_timing(self) -> SweepTiming:
        return SweepTiming(slot_seconds=self.outbox_slot_seconds,
                           grace_seconds=self.outbox_grace_seconds,
                           sweep_seconds=self.outbox_sweep_seconds)


@dataclass(frozen=True)
class Pending:
    kind: str
    subject: str
    slot: int

    @property
    def shard(self) -> int:
        return zlib.crc32(self.subject.encode()) % SHARDS


class PendingChanges:
    """The pending rows of one owner (a service)."""

    def __init__(self, cql: CqlStore, owner: str, timing: SweepTiming) -> None:
        self._cql = cql
        # Slots of another size are another owner's: a slot number means one time span.
        self.owner = f"{owner}/{timing.slot_seconds}s"
        self.settings = timing

    def slot_of(self, at: float) -> int:
        return int(at // self.settings.slot_seconds)

    async def begin(self, kind: str, subject: str, *, delay: float = 0.0) -> Pending:
        """Record that `subject` of `kind` changes now (or is to be looked at after
        `delay`); durable when this returns."""
        pending = Pending(kind, subject, self.slot_of(time.time() + delay))
        await self._cql.execute(
            "INSERT INTO pending_changes (owner, slot, shard, kind, subject) "
            "VALUES (?, ?, ?, ?, ?)", (self.owner, pending.slot, pending.shard, kind, subject))
        return pending

    async def done(self, pending: Pending) -> None:
        await self._cql.execute(
            "DELETE FROM pending_changes WHERE owner = ? AND slot = ? AND shard = ? "
            "AND kind = ? AND subject = ?",
            (self.owner, pending.slot, pending.shard, pending.kind, pending.subject))

    @asynccontextmanager
    async def around(self, kind: str, subject: str) -> AsyncIterator[None]:
        """Pending while the block runs: done when it returns or fails cleanly (a domain
        error: nothing was left half-way that is not the client's to fix); left for the
        sweeper when it fails otherwise (a backend error, a cancellation, a crash). Inside
        a finisher nothing new is recorded."""
        if _finishing.get():
            yield
            return
        pending = await self.begin(kind, subject)
        try:
            yield
        except DomainError as exc:
            if not isinstance(exc, Unavailable):
                await self._done_quietly(pending)
            raise
        await self._done_quietly(pending)

    async def _done_quietly(self, pending: Pending) -> None:
        try:
            await self.done(pending)
        except Exception as exc:  # noqa: BLE001 - the sweeper finds it settled later
            log.warning("pending %s %s: not cleared (the sweeper will): %r", pending.kind,
                        pending.subject, exc)

    # --- sweeping ------------------------------------------------------------------------

    async def slot(self, slot: int) -> list[Pending]:
        shards = await asyncio.gather(*(self._cql.execute(
            "SELECT kind, subject FROM pending_changes WHERE owner = ? AND slot = ? "
            "AND shard = ?", (self.owner, slot, shard)) for shard in range(SHARDS)))
        return [Pending(r["kind"], r["subject"], slot) for rows in shards for r in rows]

    async def swept(self) -> int | None:
        rows = await self._cql.execute(
            "SELECT swept_slot FROM pending_sweeps WHERE owner = ?", (self.owner,))
        return rows[0]["swept_slot"] if rows and rows[0]["swept_slot"] is not None else None

    async def mark_swept(self, slot: int) -> None:
        await self._cql.execute(
            "UPDATE pending_sweeps SET swept_slot = ? WHERE owner = ?", (slot, self.owner))


class Sweeper:
    """Finishes the pending changes of one owner with its finishers, one per kind."""

    def __init__(self, pending: PendingChanges, finishers: Mapping[str, Finisher]) -> None:
        self._pending = pending
        self._finishers = dict(finishers)
        self.finished = 0  # subjects settled by this sweeper (tests and metrics read it)

    async def run(self) -> None:
        settings = self._pending.settings
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a backend is away: try again later
                log.warning("%s sweeper: %r", self._pending.owner, exc)
            await asyncio.sleep(settings.sweep_seconds)

    async def sweep(self) -> int:
        """Read every slot that is old enough and not swept yet; returns slots read."""
        settings = self._pending.settings
        ripe = self._pending.slot_of(time.time() - settings.grace_seconds)
        swept = await self._pending.swept()
        if swept is None:
            swept = self._pending.slot_of(time.time() - settings.lookback_seconds)
        read = 0
        for slot in range(swept + 1, ripe + 1):
            for pending in await self._pending.slot(slot):
                await self._settle(pending)
            await self._pending.mark_swept(slot)
            read += 1
        return read

    async def _settle(self, pending: Pending) -> None:
        finisher = self._finishers.get(pending.kind)
        if finisher is None:
            log.error("%s sweeper: no finisher for %r; dropped", self._pending.owner,
                      pending.kind)
            await self._pending.done(pending)
            return
        token = _finishing.set(True)
        try:
            again = await finisher(pending.subject)
        except Exception as exc:  # noqa: BLE001 - look again later
            log.warning("%s sweeper: %s %s not finished yet: %r", self._pending.owner,
                        pending.kind, pending.subject, exc)
            again = FAILED_RETRY_SECONDS
        finally:
            _finishing.reset(token)
        if again is not None:
            await self._pending.begin(pending.kind, pending.subject,
                                      delay=max(again, self._pending.settings.slot_seconds))
        else:
            self.finished += 1
        with contextlib.suppress(Exception):
            await self._pending.done(pending)
