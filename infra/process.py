"""Processes we start, tracked by pid file so `down` stops exactly those and nothing else."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ProcessError(RuntimeError):
    """A managed process failed to start or to stop."""


# Children started by this process, kept so they are reaped (no zombies) and so their
# Popen objects are not garbage-collected while the daemon runs (which would warn).
_children: dict[int, subprocess.Popen[bytes]] = {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class ManagedProcess:
    """A long-running child identified by name, with its pid file and log file.

    The pid file records the pid and a marker from the command line; `stop` only signals a
    pid whose live command line still contains that marker, so a recycled pid is never hit.
    """

    name: str
    pid_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.pid_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def _recorded(self) -> tuple[int, str] | None:
        """(pid, marker) from the pid file, or None without a readable one."""
        try:
            pid_text, marker = self.pid_file.read_text().split("\n", 1)
            return int(pid_text), marker.strip()
        except (OSError, ValueError):
            return None

    def pid(self) -> int | None:
        """The pid of our running process, or None."""
        recorded = self._recorded()
        if recorded is None:
            return None
        pid, marker = recorded
        child = _children.get(pid)
        if child is not None and child.poll() is None:
            # Our own child: its command line may not show the marker yet (a wrapper such
            # as a launcher script has not exec'd the real program), but it is ours.
            return pid
        if _pid_alive(pid) and marker in _cmdline(pid):
            return pid
        return None

    def died(self) -> int | None:
        """The pid still on file for a process of ours that is gone without being stopped
        (it crashed or was killed), else None. `start` and `stop` clear the record."""
        recorded = self._recorded()
        if recorded is None or self.pid() is not None:
            return None
        return recorded[0]

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        marker: str | None = None,
    ) -> int:
        """Start `argv` detached (own session), output appended to the log file."""
        if (pid := self.pid()) is not None:
            raise ProcessError(f"{self.name} is already running (pid {pid})")
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n{marker or argv[0]}\n")
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns True if something was stopped."""
        return bool(stop_all([self], timeout))

    def _signal(self) -> int | None:
        """SIGTERM the process if it runs (its pid, else forget any stale record)."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)  # the record of one that died, if any
            return None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        return pid

    def _reap(self, pid: int) -> None:
        child = _children.pop(pid, None)
        if child is not None:
            child.wait()
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_all(processes: Iterable[ManagedProcess], timeout: float = 30.0) -> list[ManagedProcess]:
    """Stop several processes at once: SIGTERM every one, wait up to `timeout` for all of
    them to drain together, then SIGKILL what is left. Returns those that were running."""
    signalled = [(proc, pid) for proc in processes if (pid := proc._signal()) is not None]
    deadline = time.monotonic() + timeout
    waiting = [pid for _, pid in signalled]
    while waiting and time.monotonic() < deadline:
        waiting = [pid for pid in waiting if _pid_alive(pid)]
        if waiting:
            time.sleep(0.1)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if waiting:
        time.sleep(0.2)
    for proc, pid in signalled:
        proc._reap(pid)
    return [proc for proc, _ in signalled]
