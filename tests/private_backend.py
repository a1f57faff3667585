"""A Redis or NATS server of a test's own, on its own port and run dir, with the install's
credentials: stopping, killing and restarting it is the failure the test is about (the
shared backends are never stopped)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from infra.backends.base import wait_until
from infra.backends.nats import NatsBackend
from infra.backends.redis import RedisBackend


class PrivateServer:
    """A backend process the test owns (started, stopped or killed through its Popen)."""

    def __init__(self, backend: RedisBackend | NatsBackend, log: Path) -> None:
        self.backend = backend
        self.log = log
        self.proc: subprocess.Popen | None = None  # type: ignore[type-arg]

    def start(self) -> None:
        if isinstance(self.backend, NatsBackend):
            self.backend.store_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.backend.data_path.mkdir(parents=True, exist_ok=True)
        self.backend.render_config()  # who may connect: the install's credentials
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.backend.argv(), stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self.backend.healthy, 30, f"private {self.backend.name}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def kill(self) -> None:
        """kill -9, waited for."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
