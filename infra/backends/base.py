"""The contract every backend module implements."""

from __future__ import annotations

import abc
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from infra.process import ManagedProcess, ProcessError
from infra.settings import InfraSettings


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               proc: ManagedProcess | None = None, interval: float = 0.25) -> None:
    """Poll `check` until true; fail with the log tail if time runs out or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and not proc.is_running():
            raise ProcessError(f"{what}: process exited early\n{proc.log_tail()}")
        time.sleep(interval)
    tail = proc.log_tail() if proc is not None else ""
    raise ProcessError(f"{what}: not healthy after {timeout:.0f}s\n{tail}")


class Backend(abc.ABC):
    """A server photomesh needs: installed once into the cache, started under the run dir.

    `external` backends (settings say they run elsewhere) are only health-checked.
    """

    name: str

    def __init__(self, settings: InfraSettings) -> None:
        self.settings = settings
        self.process = ManagedProcess(self.name, settings.pid_dir, settings.log_dir)

    @property
    def external(self) -> bool:
        return False

    @abc.abstractmethod
    def installed(self) -> bool:
        """True when everything needed to start is already in the cache."""

    @abc.abstractmethod
    def install(self) -> None:
        """Install into the cache (idempotent; shows progress)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the server in the background (data under run_dir); do not wait."""

    @abc.abstractmethod
    def healthy(self) -> bool:
        """One quick health probe."""

    def wait_healthy(self, timeout: float = 60.0) -> None:
        wait_until(self.healthy, timeout, self.name,
                   None if self.external else self.process)

    def running(self) -> bool:
        """Ours and running (pid file), or external and healthy."""
        return self.healthy() if self.external else self.process.is_running()

    def stop(self) -> bool:
        return False if self.external else self.process.stop()

    def credentials_outdated(self) -> bool:
        """The running server does not ask for the install's credentials (it was started
        before the install had them, or with others): `up` restarts it on its data."""
        return False

    def provision(self) -> None:
        """Once healthy: make inside the server what the credentials need (a CQL role).
        Idempotent; nothing by default."""
        return None

    @abc.abstractmethod
    def endpoint(self) -> str:
        """What to print for people: e.g. `cql://127.0.0.1:19042`."""
