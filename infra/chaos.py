"""The chaos stack: a whole single-node photomesh of its own (backends and every service and
worker process), on its own run dir and ports, for the chaos suite (tests/chaos) to kill
with -9 and bring back the way an operator would.

It is never the shared stack of `./photomesh up`: its run dir is its own and every port a
free one (unless set), and the start code refuses to start over a listener that is not its
own. It is brought up, and each killed process restarted, with the
project's own code (infra/stack.py for the backends, infra/services.py for the services:
what `./photomesh up` runs), and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra import credentials, services, stack
from infra import layout as layouts
from infra.backends.base import Backend, port_open
from infra.layout import Layout
from infra.process import ManagedProcess
from infra.settings import InfraSettings
from services.processes import PROCESSES

#: The backends the chaos suite runs and kills (no edge: its load speaks gRPC).
BACKENDS = ("cassandra", "nats", "redis", "minio")
#: Every process of the mesh (services/processes.py).
PROCESS_NAMES = tuple(p.name for p in PROCESSES)


class ChaosSettings(BaseSettings):
    """Where the chaos stack runs (prefix ``PHOTOMESH_CHAOS_``): its run dir is a fresh
    temporary directory and each port a free one (chosen at start, all distinct: other
    engineers' stacks run on this machine too) unless set."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_CHAOS_", extra="ignore",
                                      frozen=True)

    run_dir: Path | None = None
    cql_port: int = 0
    cassandra_storage_port: int = 0  # and the next one (its unused TLS port)
    cassandra_heap_mb: int = Field(default=512, ge=256, le=1024)
    nats_port: int = 0
    nats_monitor_port: int = 0
    redis_port: int = 0
    minio_port: int = 0
    minio_console_port: int = 0


PORTS = ("cql_port", "cassandra_storage_port", "nats_port", "nats_monitor_port",
         "redis_port", "minio_port", "minio_console_port")


def _chosen_ports(chaos: ChaosSettings, host: str) -> dict[str, int]:
    """Each port setting, a free port where it is 0 (the storage port's next one free too)."""
    while True:
        free = iter(layouts.free_ports(host, len(PORTS) + 1))
        ports = {name: getattr(chaos, name) or next(free) for name in PORTS}
        tls = ports["cassandra_storage_port"] + 1
        if tls not in ports.values() and not port_open(host, tls, timeout=0.2):
            return ports


class ChaosStack:
    """Start, kill -9 and restart the processes of the chaos stack."""

    def __init__(self, chaos: ChaosSettings | None = None,
                 base: InfraSettings | None = None) -> None:
        chaos = chaos or ChaosSettings()
        run_dir = chaos.run_dir or Path(tempfile.mkdtemp(prefix="photomesh-chaos-"))
        self.owns_run_dir = chaos.run_dir is None
        base = base or InfraSettings()
        self.settings = base.model_copy(update={
            "run_dir": run_dir, **_chosen_ports(chaos, base.host),
            "cassandra_heap_mb": chaos.cassandra_heap_mb, "replicas": 1,
            "service_metrics_offset": 0, "observability": False,
            "cql_external": False, "nats_external": False, "redis_external": False,
            "minio_external": False})
        # Its own credentials, kept in its own run dir (the backends it starts ask for them).
        self.settings = credentials.ensure(self.settings)
        # One process of each service and worker, on free ports (no /metrics).
        self.layout: Layout = layouts.free(self.settings, 1, metrics=False)
        self.overrides: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def up(self, overrides: dict[str, str] | None = None) -> dict[str, float]:
        """Install what is missing, start the backends, migrate, start every process;
        returns seconds per step."""
        self.overrides = dict(overrides or {})
        took: dict[str, float] = {}
        t0 = time.monotonic()
        stack.install_all(self.settings, BACKENDS)
        stack.start_backends(self.settings, BACKENDS)
        took["backends"] = time.monotonic() - t0
        t0 = time.monotonic()
        services.migrate(self.settings, self.overrides)
        took["migrations"] = time.monotonic() - t0
        t0 = time.monotonic()
        services.start_services(self.settings, overrides=self.overrides, layout=self.layout)
        took["services"] = time.monotonic() - t0
        return took

    def down(self) -> None:
        """Remove the stack: its processes killed (its data is thrown away, so nothing is
        drained), the run dir removed if it was made here."""
        for name in (*PROCESS_NAMES, *BACKENDS):
            self.kill(name)
        if self.owns_run_dir:
            shutil.rmtree(self.settings.run_dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The PHOTOMESH_* settings of a client of this stack (backend addresses, targets)."""
        return services.service_env(self.settings, self.overrides, layout=self.layout)

    def target(self, name: str) -> str:
        return self.layout.target(name)

    # --- failures ----------------------------------------------------------------------

    def _process(self, name: str) -> ManagedProcess:
        if name in BACKENDS:
            return stack.backend(self.settings, name).process
        return services.service_process(self.settings, name)

    def down_now(self) -> list[str]:
        """The backends and processes of the stack that are not running."""
        return [n for n in (*BACKENDS, *PROCESS_NAMES) if not self._process(n).is_running()]

    def kill(self, name: str) -> int | None:
        """kill -9 of a backend or mesh process (no shutdown of any kind); the pid, or
        None if it was not running."""
        proc = self._process(name)
        pid = proc.pid()
        if pid is None:
            return None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while proc.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid

    def restart(self) -> list[str]:
        """What an operator does after a crash (`./photomesh up`): start whatever is not
        running again, with the project's own start code, backends first, each waited for
        until healthy. Returns what was started."""
        down = self.down_now()
        backends = [n for n in down if n in BACKENDS]
        if backends:
            stack.start_backends(self.settings, backends)
        services.start_services(self.settings, overrides=self.overrides, layout=self.layout)
        return down

    def backend(self, name: str) -> Backend:
        return stack.backend(self.settings, name)
