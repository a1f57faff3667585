"""The chaos stack (infra/chaos.py): its own backends and mesh on its own run dir and ports,
up for the module and removed after it. Never the shared stack of `./photomesh up`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.chaos import ChaosStack

#: The sweepers of the chaos stack look at a change 3 s after it began (production: 15 s),
#: so what the kills leave behind is finished within the suite's wait.
FAST_SWEEPS = {f"PHOTOMESH_{svc}_OUTBOX_{name}": value
               for svc in ("POST", "GRAPH", "STORY")
               for name, value in (("SLOT_SECONDS", "1"), ("GRACE_SECONDS", "3"),
                                   ("SWEEP_SECONDS", "0.5"))}
GRACE_SECONDS = 3.0


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[ChaosStack]:
    stack = ChaosStack()
    started = time.monotonic()
    try:
        took = stack.up(FAST_SWEEPS)
        print(f"\nchaos: stack up in {time.monotonic() - started:.0f} s ("
              + ", ".join(f"{k} {v:.0f} s" for k, v in took.items())
              + f"), run dir {stack.settings.run_dir}")
        yield stack
    finally:
        kept = Path(f"{stack.settings.run_dir}-logs")
        shutil.copytree(stack.settings.log_dir, kept, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.hprof"))
        stack.down()
        print(f"\nchaos: stack removed; logs kept in {kept}")
