"""Visible progress for long installs and starts: one line per step, with elapsed time."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


@contextmanager
def step(message: str) -> Iterator[None]:
    """Announce a step, then report how long it took (or that it failed)."""
    started = time.monotonic()
    say(f"{message} ...")
    try:
        yield
    except BaseException:
        say(f"{message}: FAILED after {time.monotonic() - started:.1f}s")
        raise
    say(f"{message}: done in {time.monotonic() - started:.1f}s")
