"""The story service's clock: the system clock, shifted by `clock_offset_seconds`.

Everything that dates stories reads it: new story ids (and so their create and expire
times), whether a story is still live, and the archive job. Production leaves the offset
at 0; a test runs a second story process a day ahead to see today's stories expired at
once instead of waiting for their lifetime to pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    offset_seconds: float = 0.0

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        return int(time.time() * 1000 + self.offset_seconds * 1000)

    def time_ns(self) -> int:
        """Nanoseconds since the Unix epoch (for the id generator)."""
        return time.time_ns() + int(self.offset_seconds * 1_000_000_000)
