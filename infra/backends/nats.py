"""NATS with JetStream: the event bus. `nats-server` built with `go install` into the cache.

Clients log in as the install's user (`nats_user`, `nats_password`), from a 0600 config
file; a client without them is refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.backends.base import Backend, http_status
from infra.install import go_install
from infra.settings import InfraSettings


@dataclass(frozen=True)
class Routes:
    """This server's place in a NATS cluster (infra/cluster.py): its name, its cluster
    listener's port and every server's route URL (its own included)."""

    server_name: str
    cluster_port: int
    routes: tuple[str, ...]
    cluster_name: str = "photomesh"


class NatsBackend(Backend):
    """`nats-server -js` with its file store under run_dir/data/nats, so events survive."""

    name = "nats"
    package = "github.com/nats-io/nats-server/v2"

    def __init__(self, settings: InfraSettings, routes: Routes | None = None) -> None:
        super().__init__(settings)
        self.routes = routes

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

    @property
    def config_path(self) -> Path:
        return self.settings.run_dir / "nats" / "auth.conf"

    def url(self) -> str:
        """The URL a client uses, user and password included (not for people)."""
        return self.settings.nats_url()

    def render_config(self) -> Path:
        """Who may connect (the command line says the rest and wins over this file)."""
        s = self.settings
        path = self.config_path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = "# no authentication\n"
        if s.nats_password:
            text = ("authorization {\n  users: [\n"
                    f"    {{user: {json.dumps(s.nats_user)}, "
                    f"password: {json.dumps(s.nats_password)}}}\n  ]\n}}\n")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

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
        cluster = [] if self.routes is None else [
            "--cluster_name", self.routes.cluster_name,
            "--cluster", f"nats://{s.host}:{self.routes.cluster_port}",
            "--routes", ",".join(self.routes.routes)]
        return [
            str(self.binary),
            "--config", str(self.config_path),
            "--addr", s.host,
            "--port", str(s.nats_port),
            "--http_port", str(s.nats_monitor_port),
            "--server_name", self.routes.server_name if self.routes else "photomesh",
            "--jetstream",
            "--store_dir", str(self.store_dir),
            *cluster,
        ]

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.render_config()
        # The monitor listens on --addr too; the store dir makes the marker unique per run dir.
        self.process.start(self.argv(), marker=str(self.store_dir))

    def healthy(self) -> bool:
        s = self.settings
        url = f"http://{s.host}:{s.nats_monitor_port}/healthz?js-enabled-only=true"
        return http_status(url) == 200

    def server_info(self) -> dict[str, object]:
        """The INFO the server greets every client with (before any login)."""
        s = self.settings
        with socket.create_connection((s.host, s.nats_port), timeout=2) as sock:
            sock.settimeout(2)
            line = b""
            while not line.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                line += chunk
        verb, _, body = line.decode().partition(" ")
        if verb != "INFO":
            raise ConnectionError(f"nats: unexpected greeting {line[:40]!r}")
        info: dict[str, object] = json.loads(body)
        return info

    def credentials_outdated(self) -> bool:
        """The running server lets a client in without the user the settings hold
        (started before this install had one): `up` restarts it."""
        if not self.settings.nats_password:
            return False
        try:
            return not self.server_info().get("auth_required", False)
        except (OSError, ValueError):
            return False

    def endpoint(self) -> str:
        return f"nats://{self.settings.host}:{self.settings.nats_port}"
