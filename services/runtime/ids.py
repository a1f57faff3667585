"""64-bit, time-ordered ids made without coordination (Snowflake layout).

    | 1 bit 0 | 41 bits ms since 2026-01-01 UTC | 10 bits worker id | 12 bits sequence |

Ids sort by creation time (to the millisecond), so a CQL clustering column of ids is newest
first with ``ORDER BY id DESC``. Two processes never collide while their worker ids differ:
the infra scripts give each process on one machine its own (``PHOTOMESH_SNOWFLAKE_WORKER_ID``);
in Kubernetes, where pods have nothing stable and unique to derive one from,
``PHOTOMESH_SNOWFLAKE_WORKER_ID=lease`` makes each process lease a free id from the CQL store
(services/runtime/worker_ids.py). A leased generator only makes ids inside the window its lease
allows (`limit`): after the previous holder's last millisecond, up to its own fence. 4096 ids
per millisecond per worker; beyond that the generator waits for the next millisecond. 41 bits
of milliseconds last until 2095.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.errors import Unavailable

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1  # ids are positive 63-bit numbers (CQL bigint)
MAX_BACKWARD_MS = 2_000  # wait out a clock step back up to this long, else refuse


class SnowflakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_SNOWFLAKE_", extra="ignore",
                                      frozen=True)

    worker_id: Annotated[int, Field(ge=0, le=MAX_WORKER)] | Literal["lease"] = Field(
        default=0, description="unique per running process that makes ids, or `lease`: "
                               "lease a free one from the CQL store (Kubernetes)")
    lease_ttl_seconds: int = Field(
        default=60, ge=5, le=3600, description="a leased id lapses this long after its last "
                                               "renewal; renewed every quarter of it")


class ClockWentBackwards(RuntimeError):
    pass


class WorkerIdLapsed(Unavailable):
    """The generator's lease window is over (renewals failed) or it was closed."""


class Snowflake:
    """Thread-safe id generator for one worker id."""

    def __init__(self, worker_id: int, clock=time.time_ns) -> None:  # type: ignore[no-untyped-def]
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be in [0, {MAX_WORKER}], got {worker_id}")
        self.worker_id = worker_id
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0
        self._until_ms: int | None = None  # no id past this (epoch-relative); None: no limit
        self._closed = False

    def limit(self, after_ms: int, until_ms: int) -> None:
        """Make ids only at milliseconds in (after_ms, until_ms] (Unix ms) from now on: after
        the previous holder of this worker id stopped, up to this holder's lease fence."""
        with self._lock:
            after = after_ms - EPOCH_MS
            if after >= self._last_ms:
                # As if an id had been made at `after` with the last sequence number: the next
                # one is in a later millisecond.
                self._last_ms, self._sequence = after, MAX_SEQUENCE
            self._until_ms = until_ms - EPOCH_MS

    def extend(self, until_ms: int) -> None:
        """A renewed lease: ids may be made up to `until_ms` (Unix ms)."""
        with self._lock:
            if self._until_ms is None or until_ms - EPOCH_MS > self._until_ms:
                self._until_ms = until_ms - EPOCH_MS

    def close(self) -> int:
        """Make no more ids; returns the Unix ms of the last one made (or of the window's
        start), which the next holder of this worker id must stay after."""
        with self._lock:
            self._closed = True
            return max(self._last_ms, 0) + EPOCH_MS

    def _now_ms(self) -> int:
        return int(self._clock() // 1_000_000) - EPOCH_MS

    def next_id(self) -> int:
        with self._lock:
            if self._closed:
                raise WorkerIdLapsed("this process makes no more ids (shutting down)",
                                     reason="WORKER_ID_RELEASED")
            now = self._now_ms()
            if now < self._last_ms:
                if self._last_ms - now > MAX_BACKWARD_MS:
                    raise ClockWentBackwards(
                        f"clock is {self._last_ms - now} ms behind the last id; refusing "
                        f"to make ids that could repeat")
                while now < self._last_ms:
                    time.sleep((self._last_ms - now) / 1000)
                    now = self._now_ms()
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    while now <= self._last_ms:
                        now = self._now_ms()
            else:
                self._sequence = 0
            if self._until_ms is not None and now > self._until_ms:
                raise WorkerIdLapsed(
                    f"the lease of Snowflake worker id {self.worker_id} could not be renewed "
                    f"in time; retry (another replica can serve the call)",
                    reason="WORKER_ID_LEASE_LAPSED")
            self._last_ms = now
            return (now << (WORKER_BITS + SEQUENCE_BITS)) | (self.worker_id << SEQUENCE_BITS) \
                | self._sequence


def id_time_ms(snowflake_id: int) -> int:
    """Unix milliseconds at which `snowflake_id` was made."""
    return (snowflake_id >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


def min_id_at(unix_ms: int) -> int:
    """The smallest id made at or after `unix_ms` (for time-range queries on id columns)."""
    return max(0, unix_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)
