"""The story service's clock: the system clock, shifted by `clock_offset_seconds`.

Whether a story is still live, and what the archive job takes for "expired", read it.
Production leaves the offset at 0; a test runs a second story process a day ahead to see
today's stories expired at once instead of waiting for their lifetime to pass. (Story ids,
and so create and expire times of new stories, stay on the system clock: such a process is
for looking at stories, not for making them.)
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
