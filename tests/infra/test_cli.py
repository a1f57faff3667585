"""`./photomesh up`, `down` and `status` (infra/cli.py) on a run dir of their own.

Each test gives the CLI a private PHOTOMESH_RUN_DIR (pid files, data, logs) and free ports,
and only cheap backends (`--only redis,nats --no-services`): the shared backends and mesh
this machine runs are never seen, let alone stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.sandbox import free_port

REPO = Path(__file__).resolve().parents[2]
UP_BACKENDS = ("up", "--only", "redis,nats", "--no-services")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes(*parts: str) -> list[int]:
    """Live processes whose command line holds every one of `parts`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            line = _cmdline(int(entry.name))
            if line and all(part in line for part in parts):
                found.append(int(entry.name))
    return found


@dataclass
class Cli:
    run_dir: Path
    redis_port: int
    nats_port: int
    env: dict[str, str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "infra.cli", *args], env=self.env,
                              cwd=REPO, capture_output=True, text=True, timeout=120)

    def pid(self, name: str) -> int | None:
        try:
            return int((self.run_dir / "pids" / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def row(self, name: str) -> str:
        """The `status` line of a backend."""
        out = self("status").stdout
        return next(line for line in out.splitlines() if line.split()[:1] == [name])

    def redis(self) -> list[int]:
        return processes("redis-server", f"127.0.0.1:{self.redis_port}")

    def nats(self) -> list[int]:
        return processes("nats-server", f"--port {self.nats_port}")


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    run_dir = tmp_path / "state"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PHOTOMESH_") or k in ("PHOTOMESH_CACHE_DIR", "PHOTOMESH_REPO")}
    ports = {"redis": free_port(), "nats": free_port(), "monitor": free_port()}
    env.update(PHOTOMESH_RUN_DIR=str(run_dir), PHOTOMESH_REDIS_PORT=str(ports["redis"]),
               PHOTOMESH_NATS_PORT=str(ports["nats"]),
               PHOTOMESH_NATS_MONITOR_PORT=str(ports["monitor"]))
    runner = Cli(run_dir, ports["redis"], ports["nats"], env)
    assert runner("status").stdout.startswith(f"run dir: {run_dir}\n")  # never the shared one
    try:
        yield runner
    finally:
        runner("down")  # whatever of this run dir is left


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while _alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.1)


def test_up_never_starts_a_twin(cli: Cli) -> None:
    first = cli("up", "--only", "redis", "--no-services")
    assert first.returncode == 0, first.stderr
    redis_pid = cli.pid("redis")
    assert redis_pid is not None and cli.redis() == [redis_pid]

    again = cli("up", "--only", "redis", "--no-services")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    # A port someone else listens on is never started over either.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", cli.nats_port))
        squatter.listen()
        refused = cli(*UP_BACKENDS)
        assert refused.returncode == 1
        assert f"127.0.0.1:{cli.nats_port} is already in use" in refused.stderr
        assert cli.nats() == []
    more = cli(*UP_BACKENDS)
    assert more.returncode == 0, more.stderr
    assert "already running, kept: redis" in more.stderr
    assert cli.redis() == [redis_pid] and cli.pid("redis") == redis_pid
    assert cli.nats() == [cli.pid("nats")]


def test_down_stops_exactly_what_up_started(cli: Cli, tmp_path: Path) -> None:
    up = cli(*UP_BACKENDS)
    assert up.returncode == 0, up.stderr
    ours = [cli.pid("redis"), cli.pid("nats")]
    assert None not in ours
    # Not ours: a redis-server started by hand, and a pid file of this run dir naming it
    # (as a pid recycled after our MinIO died would).
    foreign = subprocess.Popen(
        ["redis-server", "--port", str(free_port()), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        (cli.run_dir / "pids" / "minio.pid").write_text(
            f"{foreign.pid}\n{cli.run_dir / 'data' / 'minio'}\n")
        down = cli("down")
        assert down.returncode == 0, down.stderr
        assert down.stdout.strip() == "stopped: redis, nats"
        for pid in ours:
            _wait_gone(pid)  # type: ignore[arg-type]
        assert foreign.poll() is None, "down stopped a process it did not start"
        assert cli("down").stdout.strip() == "nothing of ours was running"
    finally:
        foreign.terminate()
        foreign.wait(timeout=30)


def test_status_reports_a_dead_process(cli: Cli) -> None:
    up = cli("up", "--only", "redis", "--no-services")
    assert up.returncode == 0, up.stderr
    pid = cli.pid("redis")
    assert pid is not None
    assert cli.row("redis").split()[1:3] == ["up", str(pid)]
    os.kill(pid, signal.SIGKILL)  # our own private redis, started above
    _wait_gone(pid)
    assert cli.row("redis").split()[1:5] == ["DEAD", "(was", "pid", f"{pid})"]
    cli("down")
    assert cli.row("redis").split()[1:3] == ["stopped", "-"]
