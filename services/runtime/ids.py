"""64-bit, time-ordered ids made without coordination (Snowflake layout).

    | 1 bit 0 | 41 bits ms since 2026-01-01 UTC | 10 bits worker id | 12 bits sequence |

Ids sort by creation time (to the millisecond), so a CQL clustering column of ids is newest
first with ``ORDER BY id DESC``. Two processes never collide while their worker ids differ:
the infra scripts give each process its own (``PHOTOMESH_SNOWFLAKE_WORKER_ID``); in a
deployment, derive it from the pod ordinal. 4096 ids per millisecond per worker; beyond that
the generator waits for the next millisecond. 41 bits of milliseconds last until 2095.
"""

from __future__ import annotations

import threading
import time

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    worker_id: int = Field(default=0, ge=0, le=MAX_WORKER,
                           description="unique per running process that makes ids")


class ClockWentBackwards(RuntimeError):
    pass


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

    def _now_ms(self) -> int:
        return int(self._clock() // 1_000_000) - EPOCH_MS

    def next_id(self) -> int:
        with self._lock:
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
            self._last_ms = now
            return (now << (WORKER_BITS + SEQUENCE_BITS)) | (self.worker_id << SEQUENCE_BITS) \
                | self._sequence


def id_time_ms(snowflake_id: int) -> int:
    """Unix milliseconds at which `snowflake_id` was made."""
    return (snowflake_id >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


def min_id_at(unix_ms: int) -> int:
    """The smallest id made at or after `unix_ms` (for time-range queries on id columns)."""
    return max(0, unix_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)
