"""Every backend refuses a client without the install's credentials, and nothing of ours
listens where clients reach it but the edge (infra/credentials.py, infra/backends/)."""

from __future__ import annotations

import ipaddress
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from infra.backends.cassandra import cql_greeting
from infra.backends.cql_auth import DEFAULT_SUPERUSER
from infra.settings import InfraSettings


@pytest.fixture(scope="module")
def installed(backends: InfraSettings) -> InfraSettings:
    assert backends.redis_password and backends.nats_password and backends.cql_password, \
        "the backends run without the install's credentials: `./photomesh up` adds them"
    return backends


def test_redis_refuses_a_client_without_the_password(installed: InfraSettings) -> None:
    import redis

    anonymous = redis.Redis(host=installed.host, port=installed.redis_port)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("pm:anything")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=installed.host, port=installed.redis_port,
                    password="not-the-password").ping()
    assert redis.Redis.from_url(installed.redis_url()).ping()


def test_the_redis_password_cannot_reconfigure_wipe_or_stop_the_server(
        installed: InfraSettings) -> None:
    """The services' login may not reach files through CONFIG, stop the server, or wipe
    or walk the keyspace; it still does everything the mesh does (scripts, scans)."""
    import redis

    client = redis.Redis.from_url(installed.redis_url())
    try:
        for command in (("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "GET", "dir"),
                        ("SHUTDOWN", "NOSAVE"), ("FLUSHALL",), ("FLUSHDB",), ("KEYS", "*"),
                        ("MONITOR",), ("ACL", "LIST")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
        assert client.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1,
                           "pm:acl-check", "1") == b"OK"
        assert list(client.scan_iter(match="pm:acl-check", count=1000)) == [b"pm:acl-check"]
        assert client.delete("pm:acl-check") == 1
        assert client.ping()
    finally:
        client.close()


def _nats_login(settings: InfraSettings, user: str | None, password: str | None) -> str:
    """What a NATS server answers a client's CONNECT (with these credentials) and PING:
    ``PONG`` once logged in, else its ``-ERR``."""
    import json
    import socket

    with socket.create_connection((settings.host, settings.nats_port), timeout=5) as sock:
        reader = sock.makefile("rb")
        info = json.loads(reader.readline().decode().partition(" ")[2])
        assert info.get("auth_required") is True
        options: dict[str, object] = {"verbose": False, "pedantic": False}
        if user is not None:
            options.update(user=user, **{"pass": password})
        sock.sendall(f"CONNECT {json.dumps(options)}\r\nPING\r\n".encode())
        return reader.readline().decode().strip()


def test_nats_refuses_a_client_without_the_user(installed: InfraSettings) -> None:
    assert "Authorization Violation" in _nats_login(installed, None, None)
    assert "Authorization Violation" in _nats_login(installed, installed.nats_user, "wrong")
    assert _nats_login(installed, installed.nats_user, installed.nats_password) == "PONG"


def test_the_cql_store_refuses_a_client_without_the_role(installed: InfraSettings) -> None:
    host, port = installed.host, installed.cql_port
    # Every client is asked for a login before any query (the default superuser is gone).
    assert cql_greeting(host, port) == "login"
    assert cql_greeting(host, port, credentials=DEFAULT_SUPERUSER) == "refused"
    assert cql_greeting(host, port, credentials=(installed.cql_username, "wrong")) == "refused"
    assert cql_greeting(host, port, credentials=(installed.cql_username,
                                                 installed.cql_password or "")) == "accepted"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_minio_refuses_a_client_without_the_keys(installed: InfraSettings,
                                                 run_env: dict) -> None:
    from minio import Minio
    from minio.error import S3Error

    endpoint = f"{installed.host}:{installed.minio_port}"
    bucket = run_env["PHOTOMESH_MINIO_BUCKET"]
    # Anonymous: no listing of buckets, of the run's bucket or of its uploads.
    for path in ("/", f"/{bucket}/", f"/{bucket}?list-type=2&prefix=uploads/"):
        assert _status(f"http://{endpoint}{path}") == 403, path
    # MinIO's well-known default and the old development keys open nothing.
    for access, secret in (("minioadmin", "minioadmin"), ("photomesh", "photomesh-dev-secret")):
        with pytest.raises(S3Error) as err:
            Minio(endpoint, access_key=access, secret_key=secret, secure=False).list_buckets()
        assert err.value.code == "InvalidAccessKeyId"
    root = Minio(endpoint, access_key=installed.minio_access_key,
                 secret_key=installed.minio_secret_key, secure=False)
    assert isinstance(root.list_buckets(), list)


# --- who listens where ------------------------------------------------------------------

def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word of the address in host (little-endian) order.
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((str(ipaddress.ip_address(words)), int(port, 16)))
    return found


def test_only_the_edge_listens_where_clients_reach_it(installed: InfraSettings) -> None:
    from infra import stack
    from infra.backends.envoy import EnvoyBackend

    seen = {}
    for b in stack.backends(installed):
        pid = b.process.pid() if stack.is_server(b) and not b.external else None
        if pid is not None:
            seen[b.name] = _listening(pid)
    assert {"cassandra", "nats", "redis", "minio"} <= seen.keys()
    edge = (installed.edge_host, installed.envoy_port)
    for name, sockets in seen.items():
        for address, port in sockets:
            if name == "envoy" and (address, port) == edge:
                continue  # the one listener meant for clients
            ip = ipaddress.ip_address(address)
            assert ip.is_loopback or (ip.is_private and address == installed.host), \
                f"{name} listens on {address}:{port}, where clients may reach it"
    if "envoy" in seen:
        admin = EnvoyBackend(installed).settings.envoy_admin_port
        assert {a for a, p in seen["envoy"] if p == admin} <= {"127.0.0.1"}
