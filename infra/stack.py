"""The backends photomesh runs on, in start order: install, start, stop and report on them.

Backend modules are imported only when a backend is used, so `--only nats,redis` works and
commands stay quick to start.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from infra.backends.base import Backend, port_open
from infra.process import ProcessError
from infra.progress import say, step
from infra.settings import InfraSettings

#: name -> "module:Class", in start order (stop goes the other way).
BACKENDS: dict[str, str] = {
    "cassandra": "infra.backends.cassandra:CassandraBackend",
    "nats": "infra.backends.nats:NatsBackend",
    "redis": "infra.backends.redis:RedisBackend",
    "minio": "infra.backends.minio:MinioBackend",
    "envoy": "infra.backends.envoy:EnvoyBackend",
    "ffmpeg": "infra.backends.ffmpeg:FfmpegBackend",
    "jaeger": "infra.backends.jaeger:JaegerBackend",
}
NAMES: tuple[str, ...] = tuple(BACKENDS)
#: Started only when asked for (`up --observability`, or by name with `--only`); stopped
#: and shown whenever they run.
OPTIONAL: frozenset[str] = frozenset({"jaeger"})

#: Seconds from start to healthy before giving up; Cassandra (a JVM) is the slow one.
START_TIMEOUTS: dict[str, float] = {"cassandra": 240.0}
DEFAULT_START_TIMEOUT = 60.0
EXTERNAL_TIMEOUT = 10.0


def select(only: Iterable[str] | None = None, optional: bool = False) -> list[str]:
    """Backend names in start order, restricted to `only` (unknown names are an error);
    the OPTIONAL ones only if named or `optional`."""
    if only is None:
        return [name for name in NAMES if optional or name not in OPTIONAL]
    wanted = set(only)
    if unknown := wanted - set(NAMES):
        raise ValueError(f"unknown backend(s): {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(NAMES)})")
    return [name for name in NAMES if name in wanted]


def backend(settings: InfraSettings, name: str) -> Backend:
    module, _, cls = BACKENDS[name].partition(":")
    instance: Backend = getattr(importlib.import_module(module), cls)(settings)
    return instance


def backends(settings: InfraSettings, only: Iterable[str] | None = None) -> list[Backend]:
    """`only`, or every backend the settings use (Jaeger with `observability`)."""
    return [backend(settings, name) for name in select(only, settings.observability)]


def is_server(b: Backend) -> bool:
    """False for tools (ffmpeg) that are installed but never started."""
    from infra.backends.ffmpeg import Tool

    return not isinstance(b, Tool)


def install_all(settings: InfraSettings, only: Iterable[str] | None = None) -> list[str]:
    """Install whatever is missing (external backends are skipped). Returns names installed."""
    installed = []
    for b in backends(settings, only):
        if b.external or b.installed():
            continue
        with step(f"installing {b.name}"):
            b.install()
        installed.append(b.name)
    return installed


def _check_ports_free(b: Backend) -> None:
    """Refuse to start over someone else's listener (a clear message beats a crash log)."""
    ports = getattr(b, "ports", None)
    if ports is None:
        return
    for setting, port in ports().items():
        if port_open(b.settings.host, port, timeout=0.2):
            raise ProcessError(f"{b.name}: port {b.settings.host}:{port} is already in use by "
                               f"a process that is not ours; free it or set {setting}")


def start_backends(settings: InfraSettings, only: Iterable[str] | None = None) -> list[str]:
    """Start every backend that is not running (all at once), then wait until each is healthy.

    Running ones are only health-checked; external ones too, never started. Once healthy,
    each of ours makes what its credentials need inside it (`Backend.provision`: the CQL
    role). Returns the names started. On failure raises ProcessError naming each backend
    with its log tail; backends that did come up are left running (`stop_backends` stops
    them).
    """
    chosen = backends(settings, only)
    missing = [b.name for b in chosen if not b.external and not b.installed()]
    if missing:
        raise ProcessError(f"not installed: {', '.join(missing)} (run `./photomesh install`)")
    started: list[str] = []
    t0: dict[str, float] = {}
    for b in chosen:
        t0[b.name] = time.monotonic()
        if b.external or not is_server(b) or b.running():
            continue
        _check_ports_free(b)
        b.start()
        started.append(b.name)

    def wait(b: Backend) -> tuple[Backend, float, str | None]:
        timeout = (EXTERNAL_TIMEOUT if b.external
                   else START_TIMEOUTS.get(b.name, DEFAULT_START_TIMEOUT))
        try:
            b.wait_healthy(timeout)
            if not b.external and is_server(b):
                b.provision()
        except ProcessError as e:
            return b, time.monotonic() - t0[b.name], str(e)
        except Exception as e:  # noqa: BLE001 - a driver's error while provisioning
            return b, time.monotonic() - t0[b.name], f"{b.name}: provisioning failed: {e!r}"
        return b, time.monotonic() - t0[b.name], None

    failures = []
    with ThreadPoolExecutor(max_workers=len(chosen) or 1) as pool:
        for b, took, error in pool.map(wait, chosen):
            if error is not None:
                failures.append(error)
            elif b.name in started:
                say(f"{b.name} healthy at {b.endpoint()} ({took:.1f}s)")
    if failures:
        raise ProcessError("\n\n".join(failures))
    return started


def outdated_credentials(settings: InfraSettings, only: Iterable[str] | None = None
                         ) -> list[str]:
    """Names of our running backends that do not ask for the install's credentials (an
    install from before it had them): restarted on their data, they will."""
    return [b.name for b in backends(settings, only)
            if not b.external and is_server(b) and b.process.is_running()
            and b.credentials_outdated()]


def stop_backends(settings: InfraSettings, only: Iterable[str] | None = None) -> list[str]:
    """Stop our backend processes (by pid file), last started first. Returns names stopped."""
    stopped = []
    for name in reversed(select(only, optional=True)):
        b = backend(settings, name)
        if not b.external and b.stop():
            stopped.append(name)
    return stopped


def any_running(settings: InfraSettings) -> list[str]:
    """Names of backends whose pid file points at a live process of ours.

    Reads pid files only (no backend module is imported), so it is quick and works while
    a backend module is broken.
    """
    from infra.process import ManagedProcess

    return [name for name in NAMES
            if ManagedProcess(name, settings.pid_dir, settings.log_dir).is_running()]


@dataclass(frozen=True)
class BackendStatus:
    name: str
    kind: str            # "ours", "external" or "tool"
    pid: int | None
    endpoint: str
    healthy: bool
    rss_mb: float | None
    dead_pid: int | None = None  # ours, gone without being stopped

    @property
    def state(self) -> str:
        if self.kind == "tool":
            return "installed" if self.healthy else "missing"
        if self.kind == "external":
            return "external, up" if self.healthy else "external, DOWN"
        if self.pid is None:
            return f"DEAD (was pid {self.dead_pid})" if self.dead_pid else "stopped"
        return "up" if self.healthy else "UNHEALTHY"


def rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` in MiB (from /proc), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def status(settings: InfraSettings, only: Iterable[str] | None = None) -> list[BackendStatus]:
    rows = []
    chosen = backends(settings, only)
    for name in OPTIONAL - {b.name for b in chosen}:
        extra = backend(settings, name)  # shown while it runs, asked for or not
        if only is None and extra.process.is_running():
            chosen.append(extra)
    for b in chosen:
        if not is_server(b):
            rows.append(BackendStatus(b.name, "tool", None, b.endpoint(), b.healthy(), None))
        elif b.external:
            rows.append(BackendStatus(b.name, "external", None, b.endpoint(), b.healthy(), None))
        else:
            pid = b.process.pid()
            healthy = pid is not None and b.healthy()
            rows.append(BackendStatus(b.name, "ours", pid, b.endpoint(), healthy,
                                      rss_mb(pid) if pid else None,
                                      b.process.died() if pid is None else None))
    return rows
