"""One more process of a mesh service, started by a test with its own settings (a peer
behind a proxy, a small limit …) on the run's backends and names; stopped afterwards."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from infra import services as mesh_services
from infra.backends.base import wait_until
from infra.sandbox import Mesh, free_port
from infra.settings import InfraSettings


@contextmanager
def private_service(mesh: Mesh, name: str, log_dir: Path,
                    overrides: Mapping[str, str] | None = None,
                    settings: InfraSettings | None = None) -> Iterator[str]:
    """Start `name` from this checkout with the mesh's environment plus `overrides`, on a
    free port; yields its target once it is SERVING. `settings` (the mesh's by default)
    are the backends whose settings it is given, e.g. a test's private Redis and NATS."""
    port = free_port()
    env = {**mesh_services.process_env(settings or mesh.settings, name, None, mesh.ports),
           **mesh.env, f"PHOTOMESH_{name.upper()}_PORT": str(port), **(overrides or {})}
    with open(log_dir / f"{name}-{port}.log", "ab") as log:
        proc = subprocess.Popen(mesh_services.service_argv(name), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=mesh_services.REPO, env=env)
    target = f"{mesh.settings.host}:{port}"
    try:
        wait_until(lambda: proc.poll() is None and mesh_services.grpc_serving(target), 60,
                   f"private {name}")
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=30)
