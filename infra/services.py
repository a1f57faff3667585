"""The Python services, one process each (`python -m services.<name>`), and their environment.

`service_env` turns InfraSettings into the PHOTOMESH_* variables the services read (the
classes in services/runtime/settings.py); test fixtures reuse it with their own keyspace and
ports. Readiness is a real gRPC health check (grpc.health.v1) answering SERVING.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from infra.process import ManagedProcess, ProcessError
from infra.progress import say
from infra.settings import InfraSettings
from services.processes import INTROSPECTION, PROCESSES

REPO = Path(__file__).resolve().parents[1]

#: Process name -> default gRPC port (workers serve only health on theirs), from the one
#: declaration of the processes (services/processes.py). Start order is this order.
SERVICE_PORTS: dict[str, int] = {p.name: p.port for p in PROCESSES}
#: Process name -> the module it runs.
MODULES: dict[str, str] = {p.name: p.module for p in PROCESSES}
SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)

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

def service_env(
    settings: InfraSettings,
    overrides: Mapping[str, str] | None = None,
    *,
    service: str | None = None,
    ports: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """The PHOTOMESH_* variables for a service process (not the rest of os.environ).

    Every service gets the backend addresses, every service's PHOTOMESH_<NAME>_HOST/_PORT
    and PHOTOMESH_<NAME>_TARGET (so they can dial each other), the JWT public key and the
    services' public keys; `service=<name>` (a process of SERVICES) also gets that
    process's own service key, only `service="auth"` PHOTOMESH_AUTH_PRIVATE_KEY_PATH, and
    only `service="introspection"` the list of every other process it watches
    (PHOTOMESH_INTROSPECTION_TARGETS). `ports` replaces some or all of SERVICE_PORTS (ports
    and targets stay consistent); `overrides` is applied last, e.g.
    ``{"PHOTOMESH_CQL_KEYSPACE": "photomesh_test"}``.
    """
    s = settings
    private_path, public_path = ensure_jwt_keys(s)
    all_ports = {**SERVICE_PORTS, **(ports or {})}
    env = {
        # A list field in pydantic-settings: JSON.
        "PHOTOMESH_CQL_CONTACT_POINTS": json.dumps([s.host]),
        "PHOTOMESH_CQL_PORT": str(s.cql_port),
        "PHOTOMESH_CQL_KEYSPACE": CQL_KEYSPACE,
        "PHOTOMESH_REDIS_URL": f"redis://{s.host}:{s.redis_port}/0",
        "PHOTOMESH_NATS_URL": f"nats://{s.host}:{s.nats_port}",
        "PHOTOMESH_MINIO_ENDPOINT": f"{s.host}:{s.minio_port}",
        "PHOTOMESH_MINIO_ACCESS_KEY": s.minio_access_key,
        "PHOTOMESH_MINIO_SECRET_KEY": s.minio_secret_key,
        "PHOTOMESH_JWT_PUBLIC_KEY_PATH": str(public_path),
        "PHOTOMESH_JWT_SERVICE_PUBLIC_KEYS_PATH": str(ensure_service_keys(s)),
    }
    for name, port in all_ports.items():
        upper = name.upper()
        env[f"PHOTOMESH_{upper}_HOST"] = s.host
        env[f"PHOTOMESH_{upper}_PORT"] = str(port)
        env[f"PHOTOMESH_{upper}_TARGET"] = f"{s.host}:{port}"
    if service == "auth":
        env["PHOTOMESH_AUTH_PRIVATE_KEY_PATH"] = str(private_path)
    if service in SERVICES:
        env["PHOTOMESH_JWT_SERVICE_KEY_PATH"] = str(service_key_path(s, service))
    if service == INTROSPECTION:
        env["PHOTOMESH_INTROSPECTION_TARGETS"] = json.dumps(
            {name: [f"{s.host}:{port}"] for name, port in all_ports.items()
             if name != INTROSPECTION})
    if service in all_ports:
        # Each process makes its own Snowflake ids (services/runtime/ids.py).
        env["PHOTOMESH_SNOWFLAKE_WORKER_ID"] = str(list(all_ports).index(service))
    env.update(overrides or {})
    return env


def process_env(settings: InfraSettings, service: str,
                overrides: Mapping[str, str] | None = None,
                ports: Mapping[str, int] | None = None) -> dict[str, str]:
    """The whole environment of a service process: ours on top of os.environ.

    PYTHONPATH keeps what the caller has and gains the repo and the generated client
    package, so `python -m services.<name>` imports the same code as the caller.
    """
    env = dict(os.environ)
    paths = [str(REPO), str(REPO / "clients" / "python")]
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in existing if p not in paths])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(service_env(settings, overrides, service=service, ports=ports))
    return env


# --- processes -------------------------------------------------------------------------------

def service_process(settings: InfraSettings, name: str) -> ManagedProcess:
    return ManagedProcess(f"svc-{name}", settings.pid_dir, settings.log_dir)


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
    timeout: float = START_TIMEOUT,
) -> list[str]:
    """Start the services not yet running (all at once), then wait until each is SERVING.

    Run `migrate` first: each service only checks its schema at start-up, so seven
    processes never race to create the same tables. Returns the names started; raises
    ProcessError naming every service that did not come up (with its log tail).
    """
    return _start_batch(settings, list(names or SERVICES), overrides, ports, timeout)


def _start_batch(settings: InfraSettings, names: list[str],
                 overrides: Mapping[str, str] | None, ports: Mapping[str, int] | None,
                 timeout: float) -> list[str]:
    from infra.backends.base import port_open

    all_ports = {**SERVICE_PORTS, **(ports or {})}
    started: list[str] = []
    for name in names:
        proc = service_process(settings, name)
        if proc.is_running():
            continue
        if port_open(settings.host, all_ports[name], timeout=0.2):
            raise ProcessError(f"service {name}: port {settings.host}:{all_ports[name]} is in "
                               f"use by a process that is not ours; free it or set "
                               f"PHOTOMESH_{name.upper()}_PORT")
        proc.start(service_argv(name), env=process_env(settings, name, overrides, ports),
                   cwd=REPO, marker=f"-m {service_module(name)}")
        started.append(name)

    def wait(name: str) -> tuple[str, float, str | None]:
        t0 = time.monotonic()
        try:
            wait_serving(f"{settings.host}:{all_ports[name]}", service_process(settings, name),
                         timeout, what=f"service {name}")
        except ProcessError as e:
            return name, time.monotonic() - t0, str(e)
        return name, time.monotonic() - t0, None

    failures = []
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        for name, took, error in pool.map(wait, names):
            if error is not None:
                failures.append(error)
            elif name in started:
                say(f"service {name} SERVING on {settings.host}:{all_ports[name]} "
                    f"({took:.1f}s)")
    if failures:
        raise ProcessError("\n\n".join(failures))
    return started


def stop_services(settings: InfraSettings, names: Iterable[str] | None = None) -> list[str]:
    """Stop our service processes (reverse order, by pid file). Returns the names stopped."""
    stopped = []
    for name in reversed(list(names or SERVICES)):
        if service_process(settings, name).stop(timeout=15.0):
            stopped.append(name)
    return stopped


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    target: str
    serving: bool
    dead_pid: int | None = None  # ours, gone without being stopped


def service_status(settings: InfraSettings,
                   ports: Mapping[str, int] | None = None) -> list[ServiceStatus]:
    all_ports = {**SERVICE_PORTS, **(ports or {})}
    rows = []
    for name in SERVICES:
        proc = service_process(settings, name)
        pid = proc.pid()
        target = f"{settings.host}:{all_ports[name]}"
        rows.append(ServiceStatus(name, pid, target,
                                  serving=pid is not None and grpc_serving(target, 0.5),
                                  dead_pid=proc.died() if pid is None else None))
    return rows
