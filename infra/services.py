"""The Python services (`python -m services.<name>`, one process per instance: replicas
and ports in infra/layout.py) and their environment.

`service_env` turns InfraSettings into the PHOTOMESH_* variables the services read (the
classes in services/runtime/settings.py); test fixtures reuse it with their own keyspace and
ports. Readiness is a real gRPC health check (grpc.health.v1) answering SERVING.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from infra import layout as layouts
from infra.layout import SERVICE_PORTS as SERVICE_PORTS  # re-exported
from infra.layout import SERVICES as SERVICES  # re-exported
from infra.layout import Instance, Layout
from infra.process import ManagedProcess, ProcessError, stop_all
from infra.progress import say
from infra.settings import InfraSettings
from services.processes import INTROSPECTION, PROCESSES

REPO = Path(__file__).resolve().parents[1]

#: Process name -> the module it runs (services/processes.py).
MODULES: dict[str, str] = {p.name: p.module for p in PROCESSES}

CQL_KEYSPACE = "photomesh"
START_TIMEOUT = 60.0  # seconds until a service must answer SERVING
LOG_TAIL = 20  # lines of a failed service's log to show


# --- JWT signing keys ------------------------------------------------------------------------

def ensure_jwt_keys(settings: InfraSettings) -> tuple[Path, Path]:
    """An Ed25519 key pair for the auth service, made once per run dir.

    Returns (private_path, public_path): run_dir/keys/jwt_private.pem (mode 0600, only the
    auth service gets it) and run_dir/keys/jwt_public.pem (every service verifies with it).
    """
    return _ensure_key_pair(settings.run_dir / "keys", "jwt")


def service_key_path(settings: InfraSettings, name: str) -> Path:
    """Where process `name`'s own service key is (run_dir/keys/services/<name>_private.pem,
    made by `ensure_service_keys`)."""
    return settings.run_dir / "keys" / "services" / f"{name}_private.pem"


def ensure_service_keys(settings: InfraSettings) -> Path:
    """One Ed25519 key per process of SERVICES, made once per run dir, and the file of
    their public keys (run_dir/keys/service_public_keys.json, ``{name: PEM}``) that every
    process verifies service tokens with. A process is given only its own private key
    (`service_env(service=...)`): a stolen key signs as its own service alone. The edge
    has none of them. Returns the public keys file."""
    keys = settings.run_dir / "keys"
    public_path = keys / "service_public_keys.json"
    publics = {name: _ensure_key_pair(keys / "services", name)[1].read_text()
               for name in SERVICES}
    text = json.dumps(publics, indent=1, sort_keys=True) + "\n"
    if not public_path.exists() or public_path.read_text() != text:
        tmp = keys / ".service_public_keys.json.tmp"
        tmp.write_text(text)
        os.replace(tmp, public_path)
    return public_path


def _ensure_key_pair(keys: Path, name: str) -> tuple[Path, Path]:
    private_path, public_path = keys / f"{name}_private.pem", keys / f"{name}_public.pem"
    if private_path.exists() and public_path.exists():
        return private_path, public_path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(keys, 0o700)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    # Write to temp names first, so a half-written pair is never picked up.
    tmp_private, tmp_public = keys / f".{name}_private.pem.tmp", keys / f".{name}_public.pem.tmp"
    fd = os.open(tmp_private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    tmp_public.write_bytes(public_pem)
    os.replace(tmp_public, public_path)
    os.replace(tmp_private, private_path)
    return private_path, public_path


# --- environment -----------------------------------------------------------------------------

def backend_credentials(settings: InfraSettings) -> dict[str, str]:
    """The install's CQL login and MinIO keys as the services' settings (the Redis and
    NATS passwords travel in their URLs); only those the install has."""
    s = settings
    values = {
        "PHOTOMESH_CQL_USERNAME": s.cql_username if s.cql_password else None,
        "PHOTOMESH_CQL_PASSWORD": s.cql_password,
        "PHOTOMESH_MINIO_ACCESS_KEY": s.minio_access_key,
        "PHOTOMESH_MINIO_SECRET_KEY": s.minio_secret_key,
        "PHOTOMESH_MINIO_UPLOAD_ACCESS_KEY": s.minio_upload_access_key,
        "PHOTOMESH_MINIO_UPLOAD_SECRET_KEY": s.minio_upload_secret_key,
    }
    return {k: v for k, v in values.items() if v}


def _layout(settings: InfraSettings, ports: Mapping[str, int] | None,
            layout: Layout | None) -> Layout:
    """`layout` as given; else one instance per service at `ports`; else the run dir's."""
    if layout is not None:
        return layout
    if ports is not None:
        return layouts.single(settings, ports)
    return layouts.current(settings)


def service_env(
    settings: InfraSettings,
    overrides: Mapping[str, str] | None = None,
    *,
    service: str | None = None,
    ports: Mapping[str, int] | None = None,
    layout: Layout | None = None,
    instance: Instance | None = None,
) -> dict[str, str]:
    """The PHOTOMESH_* variables for a service process (not the rest of os.environ).

    Every service gets the backend addresses, every service's PHOTOMESH_<NAME>_HOST/_PORT
    (its first instance) and PHOTOMESH_<NAME>_TARGET (every instance: infra/layout.py), the
    JWT public key and the services' public keys; `service=<name>` (a process of SERVICES)
    also gets that process's own service key, only `service="auth"`
    PHOTOMESH_AUTH_PRIVATE_KEY_PATH, and only `service="introspection"` every instance of
    every other process it watches (PHOTOMESH_INTROSPECTION_TARGETS).
    The instances are `layout`, or one per service at `ports` (defaults for the rest), or
    the run dir's (`./photomesh up`). With `instance`, that process's own port, metrics
    port and Snowflake worker id, which `overrides` (shared by every instance) never
    replace; otherwise `overrides` is applied last, e.g.
    ``{"PHOTOMESH_CQL_KEYSPACE": "photomesh_test"}``.
    """
    s = settings
    private_path, public_path = ensure_jwt_keys(s)
    mesh = _layout(s, ports, layout)
    env = {
        # A list field in pydantic-settings: JSON.
        "PHOTOMESH_CQL_CONTACT_POINTS": json.dumps([s.host]),
        "PHOTOMESH_CQL_PORT": str(s.cql_port),
        "PHOTOMESH_CQL_KEYSPACE": CQL_KEYSPACE,
        "PHOTOMESH_REDIS_URL": s.redis_url(),
        "PHOTOMESH_NATS_URL": s.nats_url(),
        "PHOTOMESH_MINIO_ENDPOINT": f"{s.host}:{s.minio_port}",
        **backend_credentials(s),
        "PHOTOMESH_JWT_PUBLIC_KEY_PATH": str(public_path),
        "PHOTOMESH_JWT_SERVICE_PUBLIC_KEYS_PATH": str(ensure_service_keys(s)),
    }
    if s.observability:  # spans to the run's Jaeger (infra/backends/jaeger.py)
        env["PHOTOMESH_OTEL_ENDPOINT"] = f"{s.host}:{s.jaeger_otlp_port}"
        env["PHOTOMESH_OTEL_SAMPLE_RATIO"] = str(s.trace_sample_ratio)
    for name in SERVICES:
        if not mesh.of(name):  # a run dir's saved layout from before the process existed
            continue
        upper = name.upper()
        env[f"PHOTOMESH_{upper}_HOST"] = mesh.host
        env[f"PHOTOMESH_{upper}_PORT"] = str(mesh.first(name).port)
        env[f"PHOTOMESH_{upper}_TARGET"] = mesh.target(name)
    if service == "auth":
        env["PHOTOMESH_AUTH_PRIVATE_KEY_PATH"] = str(private_path)
    if service in SERVICES:
        env["PHOTOMESH_JWT_SERVICE_KEY_PATH"] = str(service_key_path(s, service))
    if service == INTROSPECTION:
        env["PHOTOMESH_INTROSPECTION_TARGETS"] = json.dumps(
            {name: [f"{mesh.host}:{i.port}" for i in mesh.of(name)]
             for name in SERVICES if name != INTROSPECTION and mesh.of(name)})
    own: dict[str, str] = {}
    if service in SERVICES:
        # Each process makes its own Snowflake ids (services/runtime/ids.py).
        this = instance or mesh.first(service)
        own[f"PHOTOMESH_{service.upper()}_PORT"] = str(this.port)
        own["PHOTOMESH_SNOWFLAKE_WORKER_ID"] = str(this.worker_id)
        if this.metrics_port is not None:  # on the process's own host (PHOTOMESH_<P>_HOST)
            own[f"PHOTOMESH_{service.upper()}_METRICS_PORT"] = str(this.metrics_port)
    # An instance of a layout keeps its own port and id whatever the shared overrides say.
    return {**env, **own, **(overrides or {}), **(own if instance is not None else {})}


def process_env(settings: InfraSettings, service: str,
                overrides: Mapping[str, str] | None = None,
                ports: Mapping[str, int] | None = None, *,
                layout: Layout | None = None,
                instance: Instance | None = None) -> dict[str, str]:
    """The whole environment of a service process: ours on top of os.environ.

    PYTHONPATH keeps what the caller has and gains the repo and the generated client
    package, so `python -m services.<name>` imports the same code as the caller.
    """
    env = dict(os.environ)
    paths = [str(REPO), str(REPO / "clients" / "python")]
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in existing if p not in paths])
    env["PYTHONUNBUFFERED"] = "1"
    # Processes are started by fork + exec only (subprocess, spawn pools): gRPC's fork
    # handlers have nothing to do, and skipping them writes a non-JSON line to the log.
    env["GRPC_ENABLE_FORK_SUPPORT"] = "false"
    env.update(service_env(settings, overrides, service=service, ports=ports, layout=layout,
                           instance=instance))
    return env


# --- processes -------------------------------------------------------------------------------

def service_process(settings: InfraSettings, name: str, replica: int = 1) -> ManagedProcess:
    """The process of a service's instance (pid and log file ``svc-<name>[-<replica>]``)."""
    suffix = "" if replica == 1 else f"-{replica}"
    return ManagedProcess(f"svc-{name}{suffix}", settings.pid_dir, settings.log_dir)


def instance_process(settings: InfraSettings, instance: Instance) -> ManagedProcess:
    return service_process(settings, instance.service, instance.replica)


def running_replicas(settings: InfraSettings, name: str) -> list[int]:
    """Replica numbers of `name` whose pid file points at a live process of ours."""
    found = []
    for path in sorted(settings.pid_dir.glob(f"svc-{name}*.pid")):
        rest = path.stem.removeprefix(f"svc-{name}")
        replica = 1 if rest == "" else int(rest[1:]) if re.fullmatch(r"-\d+", rest) else None
        if replica is not None and service_process(settings, name, replica).is_running():
            found.append(replica)
    return sorted(found)


def service_module(name: str) -> str:
    return MODULES[name]


def service_argv(name: str) -> list[str]:
    return [sys.executable, "-m", service_module(name)]


def grpc_serving(target: str, timeout: float = 1.0) -> bool:
    """One grpc.health.v1 Check (service "") on a fresh channel: True if SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def wait_serving(target: str, proc: ManagedProcess | None, timeout: float = START_TIMEOUT,
                 what: str = "service") -> None:
    """Poll the health check until SERVING; fail with the log tail on timeout or early exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if grpc_serving(target):
            return
        if proc is not None and not proc.is_running():
            raise ProcessError(f"{what}: process exited early\n{proc.log_tail(LOG_TAIL)}")
        time.sleep(0.25)
    tail = proc.log_tail(LOG_TAIL) if proc is not None else ""
    raise ProcessError(f"{what}: not SERVING on {target} after {timeout:.0f}s\n{tail}")


def migrate(settings: InfraSettings, overrides: Mapping[str, str] | None = None) -> str:
    """Bring the CQL schema of every service current, once, before the services start
    (``python -m services.runtime.migrations``; it is idempotent). Returns its report."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "services.runtime.migrations"],
                          env=process_env(settings, "migrations", overrides), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ProcessError(f"migrations failed (exit {done.returncode}):\n"
                           f"{done.stdout}{done.stderr}")
    return done.stdout.strip()


def start_services(
    settings: InfraSettings,
    names: Iterable[str] | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    ports: Mapping[str, int] | None = None,
    layout: Layout | None = None,
    timeout: float = START_TIMEOUT,
) -> list[str]:
    """Start the instances not yet running (all at once), then wait until each is SERVING.

    The instances are `layout`'s (saved in the run dir for later commands), or one per
    service at `ports`, or the run dir's saved layout (else `./photomesh up`'s). Run
    `migrate` first: each service only checks its schema at start-up, so the processes
    never race to create the same tables. Returns the instances started (``post``,
    ``post#2``); raises ProcessError naming every one that did not come up (with its log
    tail).
    """
    if layout is not None:
        layouts.save(settings, layout)
    mesh = _layout(settings, ports, layout)
    wanted = list(names or SERVICES)
    instances = [i for i in mesh.instances if i.service in wanted]
    return _start_batch(settings, mesh, instances, overrides, timeout)


def _start_batch(settings: InfraSettings, mesh: Layout, instances: list[Instance],
                 overrides: Mapping[str, str] | None, timeout: float) -> list[str]:
    from infra.backends.base import port_open

    started: list[str] = []
    for instance in instances:
        proc = instance_process(settings, instance)
        if proc.is_running():
            continue
        for port, what in ((instance.port, "PORT"), (instance.metrics_port, "METRICS")):
            if port is not None and port_open(mesh.host, port, timeout=0.2):
                raise ProcessError(
                    f"service {instance.label}: port {mesh.host}:{port} is in use by a "
                    f"process that is not ours; free it or move the services "
                    f"(PHOTOMESH_SERVICE_PORT_OFFSET, PHOTOMESH_SERVICE_METRICS_OFFSET; "
                    f"{what})")
        env = process_env(settings, instance.service, overrides, layout=mesh,
                          instance=instance)
        proc.start(service_argv(instance.service), env=env, cwd=REPO,
                   marker=f"-m {service_module(instance.service)}")
        started.append(instance.label)

    def wait(instance: Instance) -> tuple[Instance, float, str | None]:
        t0 = time.monotonic()
        try:
            wait_serving(f"{mesh.host}:{instance.port}", instance_process(settings, instance),
                         timeout, what=f"service {instance.label}")
        except ProcessError as e:
            return instance, time.monotonic() - t0, str(e)
        return instance, time.monotonic() - t0, None

    failures = []
    with ThreadPoolExecutor(max_workers=max(1, len(instances))) as pool:
        for instance, took, error in pool.map(wait, instances):
            if error is not None:
                failures.append(error)
            elif instance.label in started:
                say(f"service {instance.label} SERVING on {mesh.host}:{instance.port} "
                    f"({took:.1f}s)")
    if failures:
        raise ProcessError("\n\n".join(failures))
    return started


def stop_services(settings: InfraSettings, names: Iterable[str] | None = None) -> list[str]:
    """Stop every running instance of `names` (default all; together, by pid file).
    Returns the instances stopped (``post``, ``post#2``)."""
    running = {service_process(settings, name, replica):
               name if replica == 1 else f"{name}#{replica}"
               for name in reversed(list(names or SERVICES))
               for replica in reversed(running_replicas(settings, name))}
    # All at once: each drains on its own, so together they take the slowest one's time.
    return [running[proc] for proc in stop_all(running, timeout=15.0)]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    target: str
    serving: bool
    metrics: str | None = None
    dead_pid: int | None = None  # ours, gone without being stopped


def service_status(settings: InfraSettings, layout: Layout | None = None
                   ) -> list[ServiceStatus]:
    """Every instance of the run dir's layout: pid, address, health, metrics URL."""
    mesh = layout or layouts.current(settings)
    rows = []
    for instance in mesh.instances:
        proc = instance_process(settings, instance)
        pid = proc.pid()
        dead_pid = proc.died() if pid is None else None
        if pid is None and dead_pid is None and instance.replica > 1:
            continue  # replicas that were not asked for
        target = f"{mesh.host}:{instance.port}"
        metrics = (f"http://{mesh.host}:{instance.metrics_port}/metrics"
                   if instance.metrics_port else None)
        rows.append(ServiceStatus(instance.label, pid, target,
                                  serving=pid is not None and grpc_serving(target, 0.5),
                                  metrics=metrics, dead_pid=dead_pid))
    return rows
