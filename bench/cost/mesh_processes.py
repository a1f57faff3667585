"""Which processes make up the measured mesh, and restarting its services with other
settings (spans exported for the tracing run).

The mesh is every service and worker of the private mesh, its private Envoy edge and the
shared backends (Cassandra, Redis, NATS, MinIO) it runs on, each by pid (children
included, bench/measure/cpu.py). A backend that runs elsewhere (``*_EXTERNAL``) has no pid
here and is left out, with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from infra import services as mesh_services
from infra import stack
from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from infra.settings import InfraSettings

BACKENDS = ("cassandra", "redis", "nats", "minio")


def is_backend(name: str) -> bool:
    """A backend process, alone (``cassandra``) or one node of a cluster (``cassandra-2``)."""
    return name.split("-")[0] in BACKENDS


def mesh_pids(mesh: Mesh, edge: EnvoyBackend, backends: InfraSettings | None = None,
              say: Callable[[str], None] | None = None) -> dict[str, int]:
    pids: dict[str, int] = {}
    for instance in mesh.layout.instances:
        pid = mesh_services.instance_process(mesh.settings, instance).pid()
        if pid is None:
            raise RuntimeError(f"service {instance.label} of the private mesh is not running")
        pids[instance.label] = pid
    edge_pid = edge.process.pid()
    if edge_pid is None:
        raise RuntimeError("the private edge is not running")
    pids["envoy"] = edge_pid
    for name in BACKENDS:
        backend = stack.backend(backends or InfraSettings(), name)
        pid = None if backend.external else backend.process.pid()
        if pid is None:
            if say is not None:
                say(f"note: {name} runs outside this machine's pid files; its CPU is not "
                    f"counted")
            continue
        pids[name] = pid
    return pids


def restart_services(mesh: Mesh, edge: EnvoyBackend, extra: Mapping[str, str]) -> None:
    """Stop every service of `mesh` and start it again on the same ports, names and data,
    with `extra` settings on top; back when the edge routes to each again."""
    mesh_services.stop_services(mesh.settings)
    mesh_services.start_services(mesh.settings, overrides={**mesh.env, **extra},
                                 layout=mesh.layout)
    edge.wait_routable(60.0)


__all__ = ["BACKENDS", "is_backend", "mesh_pids", "restart_services"]
