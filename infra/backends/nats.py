"""NATS with JetStream: the event bus. `nats-server` built with `go install` into the cache.

Also home of `go_install`, which MinIO uses too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from infra.backends.base import Backend
from infra.process import ProcessError
from infra.progress import say, step
from infra.settings import InfraSettings

STILL_BUILDING_EVERY = 15.0  # seconds of silence before a "still building" line


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists()
                                else None)
    if go is None:
        raise ProcessError("Go is needed to build NATS and MinIO: install Go >= 1.24 "
                           "(https://go.dev/dl/) or set PHOTOMESH_*_EXTERNAL=true")
    return go


def _other_go_installs(package: str) -> list[int]:
    """Pids of `go install <package>@...` runs already under way (ours or someone else's)."""
    pids = []
    needle = f"go install {package}@".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _wait_for_other_build(package: str, binary: Path) -> bool:
    """Wait while another `go install` of `package` runs; True if there was one."""
    waited_at_all = False
    started = time.monotonic()
    next_report = 0.0
    while pids := _other_go_installs(package):
        waited = time.monotonic() - started
        if waited >= next_report:
            say(f"waiting for a build of {package} already running (pid {pids[0]}, "
                f"{waited:.0f}s so far) to finish into {binary.parent}")
            next_report = waited + STILL_BUILDING_EVERY
        waited_at_all = True
        time.sleep(1.0)
    return waited_at_all


def go_install(settings: InfraSettings, package: str, version: str, binary_name: str,
               gobin: Path | None = None) -> Path:
    """`go install package@version` into `gobin` (default settings.bin_dir), static (CGO off).

    Go prints module downloads to stderr; they are echoed as they come, and during the long
    silent compile a "still building" line appears every few seconds. The full output is
    kept in cache_dir/logs/<binary>-build.log. If another `go install` of the same package
    is already running (an earlier `up` in another terminal), wait for it instead of
    starting a second build.
    """
    gobin = gobin or settings.bin_dir
    binary = gobin / binary_name
    if _wait_for_other_build(package, binary) and binary.exists():
        say(f"{binary} was built by the other run")
        return binary
    gobin.mkdir(parents=True, exist_ok=True)
    log_path = settings.cache_dir / "logs" / f"{binary_name}-build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(gobin), CGO_ENABLED="0",
               GOFLAGS=os.environ.get("GOFLAGS", "-buildvcs=false"))
    argv = [_go(), "install", f"{package}@{version}"]
    with step(f"go install {package}@{version} (first run only; a few minutes)"), \
            open(log_path, "w") as log:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        last_output = time.monotonic()

        def pump() -> None:
            nonlocal last_output
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                print(f"    {line.rstrip()}", file=sys.stderr, flush=True)
                last_output = time.monotonic()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        started = time.monotonic()
        while proc.poll() is None:
            time.sleep(1.0)
            if time.monotonic() - last_output >= STILL_BUILDING_EVERY:
                say(f"still building {binary_name} ({time.monotonic() - started:.0f}s)")
                last_output = time.monotonic()
        reader.join(timeout=5)
        proc.stdout.close()  # type: ignore[union-attr]
        if proc.returncode != 0:
            raise ProcessError(f"go install {package}@{version} failed (exit {proc.returncode});"
                               f" see {log_path}")
    if not binary.exists():
        raise ProcessError(f"go install finished but {binary} is missing; see {log_path}")
    return binary


def http_status(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


class NatsBackend(Backend):
    """`nats-server -js` with its file store under run_dir/data/nats, so events survive."""

    name = "nats"
    package = "github.com/nats-io/nats-server/v2"

    @property
    def external(self) -> bool:
        return self.settings.nats_external

    @property
    def binary(self) -> Path:
        """One directory per version, so run dirs wanting different versions never flip-flop."""
        return self.settings.bin_dir / f"nats-server-{self.settings.nats_version}" / "nats-server"

    @property
    def store_dir(self) -> Path:
        return self.settings.data_dir / "nats"

    def ports(self) -> dict[str, int]:
        return {"PHOTOMESH_NATS_PORT": self.settings.nats_port,
                "PHOTOMESH_NATS_MONITOR_PORT": self.settings.nats_monitor_port}

    def installed_version(self) -> str | None:
        if not self.binary.exists():
            return None
        try:
            done = subprocess.run([str(self.binary), "--version"], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        # "nats-server: v2.12.15"
        return done.stdout.strip().rsplit(" ", 1)[-1] if done.returncode == 0 else None

    def installed(self) -> bool:
        return self.binary.exists() and os.access(self.binary, os.X_OK)

    def install(self) -> None:
        if not self.installed():
            go_install(self.settings, self.package, self.settings.nats_version, "nats-server",
                       gobin=self.binary.parent)

    def argv(self) -> list[str]:
        s = self.settings
        return [
            str(self.binary),
            "--addr", s.host,
            "--port", str(s.nats_port),
            "--http_port", str(s.nats_monitor_port),
            "--server_name", "photomesh",
            "--jetstream",
            "--store_dir", str(self.store_dir),
        ]

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        # The monitor listens on --addr too; the store dir makes the marker unique per run dir.
        self.process.start(self.argv(), marker=str(self.store_dir))

    def healthy(self) -> bool:
        s = self.settings
        url = f"http://{s.host}:{s.nats_monitor_port}/healthz?js-enabled-only=true"
        return http_status(url) == 200

    def endpoint(self) -> str:
        return f"nats://{self.settings.host}:{self.settings.nats_port}"
