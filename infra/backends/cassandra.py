"""Apache Cassandra 5.0 as the local CQL store (ScyllaDB in production).

Installed from Maven Central with `mvn` (infra/cassandra/pom.xml copies cassandra-all and its
runtime jars into ``<cache_dir>/cassandra/<version>/lib``; ~/.m2 is the download cache) and run
as a plain `java ... org.apache.cassandra.service.CassandraDaemon` with a conf dir generated
under ``<run_dir>/cassandra/conf`` and data under ``<run_dir>/data/cassandra``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import string
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from infra.backends.base import Backend, port_open
from infra.process import ProcessError
from infra.progress import say, step
from infra.settings import InfraSettings

#: pom.xml, cassandra.yaml.in, logback.xml, jvm17-server.options
ASSETS = Path(__file__).resolve().parent.parent / "cassandra"

_MARKER = ".installed"
#: Single node, one token: any fixed token works; fixing it skips token allocation.
_INITIAL_TOKEN = "0"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ProcessError("cassandra: `java` (17) not found on PATH; install a JDK 17")
    return found


def _jvm_options() -> list[str]:
    """Static flags from infra/cassandra/jvm17-server.options (comments and blanks dropped)."""
    flags = []
    for line in (ASSETS / "jvm17-server.options").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            flags.append(line)
    return flags


# --- a minimal CQL native-protocol (v4) probe: STARTUP, then one query --------------------

_OP_ERROR, _OP_STARTUP, _OP_READY, _OP_AUTHENTICATE, _OP_QUERY, _OP_RESULT = 0, 1, 2, 3, 7, 8
_OP_AUTH_RESPONSE, _OP_AUTH_SUCCESS = 0x0F, 0x10
_RESULT_ROWS = 2


def _frame(stream: int, opcode: int, body: bytes) -> bytes:
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def _recv_frame(sock: socket.socket) -> tuple[int, bytes]:
    _version, _flags, _stream, opcode, length = struct.unpack(">BBhBi", _recv_exact(sock, 9))
    return opcode, _recv_exact(sock, length)


def _startup_body() -> bytes:
    body = struct.pack(">H", 1)
    for text in (b"CQL_VERSION", b"3.0.0"):
        body += struct.pack(">H", len(text)) + text
    return body


def cql_greeting(host: str, port: int, timeout: float = 2.0,
                 credentials: tuple[str, str] | None = None) -> str | None:
    """How the node answers a client over CQL v4: ``"ready"`` (no login asked),
    ``"login"`` (it asks for one; with `credentials`, ``"accepted"`` or ``"refused"`` for
    them), or None when nothing answers CQL."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_frame(1, _OP_STARTUP, _startup_body()))
            opcode, _ = _recv_frame(sock)
            if opcode == _OP_READY:
                return "ready"
            if opcode != _OP_AUTHENTICATE:
                return None
            if credentials is None:
                return "login"
            token = b"\0" + credentials[0].encode() + b"\0" + credentials[1].encode()
            sock.sendall(_frame(2, _OP_AUTH_RESPONSE, struct.pack(">i", len(token)) + token))
            opcode, _ = _recv_frame(sock)
            return "accepted" if opcode == _OP_AUTH_SUCCESS else "refused"
    except (OSError, ConnectionError, struct.error):
        return None


def cql_probe(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when the node answers `SELECT release_version FROM system.local` over CQL v4.

    A server that demands authentication counts as healthy: it is up and speaking CQL
    (whether our credentials work is `cql_greeting`'s question).
    """
    query = b"SELECT release_version FROM system.local"
    # <long string query><consistency ONE><flags 0>
    query_body = struct.pack(">i", len(query)) + query + struct.pack(">HB", 0x0001, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_frame(1, _OP_STARTUP, _startup_body()))
            opcode, _ = _recv_frame(sock)
            if opcode == _OP_AUTHENTICATE:
                return True
            if opcode != _OP_READY:
                return False
            sock.sendall(_frame(2, _OP_QUERY, query_body))
            opcode, body = _recv_frame(sock)
            return opcode == _OP_RESULT and struct.unpack(">i", body[:4])[0] == _RESULT_ROWS
    except (OSError, ConnectionError, struct.error):
        return False


@dataclass(frozen=True)
class Ring:
    """This node's place in a cluster of several (infra/cluster.py): its token, the seeds
    (``host:storage_port``) and the cluster's name. Hints are on in a cluster, and replicas
    are waited for longer (write and LWT timeouts 5 s instead of 2 s and 1 s)."""

    initial_token: str
    seeds: tuple[str, ...]
    cluster_name: str = "photomesh-cluster"


class CassandraBackend(Backend):
    name = "cassandra"

    def __init__(self, settings: InfraSettings, ring: Ring | None = None) -> None:
        super().__init__(settings)
        self.ring = ring

    @property
    def initial_token(self) -> str:
        return self.ring.initial_token if self.ring else _INITIAL_TOKEN

    # --- layout ---------------------------------------------------------------------------

    @property
    def external(self) -> bool:
        return self.settings.cql_external

    @property
    def home(self) -> Path:
        return self.settings.cache_dir / "cassandra" / self.settings.cassandra_version

    @property
    def lib_dir(self) -> Path:
        return self.home / "lib"

    @property
    def conf_dir(self) -> Path:
        return self.settings.run_dir / "cassandra" / "conf"

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir / "cassandra"

    @property
    def cassandra_log_dir(self) -> Path:
        return self.settings.log_dir / "cassandra"

    def _install_stamp(self) -> str:
        """What a complete install was made from: version + the pom's content."""
        pom = hashlib.sha256((ASSETS / "pom.xml").read_bytes()).hexdigest()[:16]
        return f"{self.settings.cassandra_version} {pom}\n"

    # --- install --------------------------------------------------------------------------

    def installed(self) -> bool:
        if self.external:
            return True
        try:
            return (self.home / _MARKER).read_text() == self._install_stamp()
        except OSError:
            return False

    def install(self) -> None:
        if self.external or self.installed():
            return
        mvn = shutil.which("mvn")
        if not mvn:
            raise ProcessError("cassandra: `mvn` (Maven) not found on PATH; it fetches the jars")
        version = self.settings.cassandra_version
        self.home.mkdir(parents=True, exist_ok=True)
        staging = self.home / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.settings.log_dir / "cassandra-install.log"
        argv = [
            mvn, "-B", "-f", str(ASSETS / "pom.xml"),
            f"-Dcassandra.version={version}", f"-Dcassandra.lib={staging}",
            "dependency:copy-dependencies",
        ]
        with step(f"cassandra: fetching Apache Cassandra {version} jars from Maven Central "
                  f"(log: {log_path})"):
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, cwd=self.home)
                started = last = time.monotonic()
                while proc.poll() is None:
                    time.sleep(0.5)
                    if time.monotonic() - last >= 10:
                        last = time.monotonic()
                        say(f"cassandra: still downloading… {self._downloads(log_path)} files "
                            f"fetched, {last - started:.0f}s")
            if proc.returncode != 0:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise ProcessError(f"cassandra: mvn failed (exit {proc.returncode})\n{tail}")
            jars = sorted(staging.glob("*.jar"))
            if not any(j.name == f"cassandra-all-{version}.jar" for j in jars):
                raise ProcessError(f"cassandra: mvn finished but cassandra-all-{version}.jar "
                                   f"is missing from {staging}")
            shutil.rmtree(self.lib_dir, ignore_errors=True)
            staging.rename(self.lib_dir)
            (self.home / _MARKER).write_text(self._install_stamp())
            say(f"cassandra: {len(jars)} jars in {self.lib_dir}")

    @staticmethod
    def _downloads(log_path: Path) -> int:
        try:
            return log_path.read_text(errors="replace").count("Downloaded from")
        except OSError:
            return 0

    # --- start ----------------------------------------------------------------------------

    def _render_conf(self) -> Path:
        s = self.settings
        (self.conf_dir / "triggers").mkdir(parents=True, exist_ok=True)
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.cassandra_log_dir.mkdir(parents=True, exist_ok=True)
        yaml = string.Template((ASSETS / "cassandra.yaml.in").read_text()).substitute(
            host=s.host,
            cql_port=s.cql_port,
            storage_port=s.cassandra_storage_port,
            # unused (no internode TLS) but must not collide with the default 7001 of another node
            ssl_storage_port=s.cassandra_storage_port + 1,
            data_dir=self.data_dir,
            initial_token=self.initial_token,
            memtable_mb=max(32, self._heap_mb() // 8),
            cluster_name=self.ring.cluster_name if self.ring else "photomesh-dev",
            authenticator=("PasswordAuthenticator" if s.cql_password
                           else "AllowAllAuthenticator"),
            seeds=",".join(self.ring.seeds if self.ring
                           else (f"{s.host}:{s.cassandra_storage_port}",)),
            hinted_handoff="true" if self.ring else "false",
            # Replicas answer a coordinator over loopback, but three JVMs share two cores
            # (GC and scheduling pauses of seconds): a cluster's nodes wait longer for them.
            write_timeout_ms=5000 if self.ring else 2000,
            cas_timeout_ms=5000 if self.ring else 1000,
        )
        (self.conf_dir / "cassandra.yaml").write_text(yaml)
        shutil.copyfile(ASSETS / "logback.xml", self.conf_dir / "logback.xml")
        return self.conf_dir / "cassandra.yaml"

    def _config_flag(self) -> str:
        """`-Dcassandra.config=<conf URL>`: unique per run dir, so it is also the pid marker."""
        return f"-Dcassandra.config={(self.conf_dir / 'cassandra.yaml').as_uri()}"

    def _heap_mb(self) -> int:
        return max(256, min(self.settings.cassandra_heap_mb, 1024))

    def argv(self) -> list[str]:
        """The full java command line (conf must have been rendered)."""
        heap = self._heap_mb()
        conf = self.conf_dir
        return [
            _java(),
            # -Xms small on purpose: Cassandra mlockall()s what is mapped at startup, so a
            # committed -Xms is pinned resident; the heap grows on demand up to -Xmx.
            f"-Xms{min(heap, 256)}m", f"-Xmx{heap}m",
            *_jvm_options(),
            f"-XX:ErrorFile={self.cassandra_log_dir / 'hs_err_%p.log'}",
            self._config_flag(),
            f"-Dcassandra.storagedir={self.data_dir}",
            f"-Dcassandra.logdir={self.cassandra_log_dir}",
            f"-Dlogback.configurationFile={(conf / 'logback.xml').as_uri()}",
            f"-Dcassandra.initial_token={self.initial_token}",
            f"-Dcassandra.triggers_dir={conf / 'triggers'}",
            "-Dcassandra-foreground=yes",
            # explicit, sorted jar list (stable across runs); config files are passed by URL
            "-cp", os.pathsep.join(str(j) for j in sorted(self.lib_dir.glob("*.jar"))),
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def start(self) -> None:
        if self.external:
            return
        if not self.installed():
            raise ProcessError("cassandra: not installed (run install first)")
        s = self.settings
        if (pid := self.process.pid()) is not None:
            raise ProcessError(f"cassandra is already running (pid {pid})")
        for port in (s.cql_port, s.cassandra_storage_port):
            if port_open(s.host, port):
                raise ProcessError(f"cassandra: port {s.host}:{port} is already in use "
                                   f"(another Cassandra? set PHOTOMESH_CQL_PORT / "
                                   f"PHOTOMESH_CASSANDRA_STORAGE_PORT)")
        self._render_conf()
        env = dict(os.environ)
        env["MALLOC_ARENA_MAX"] = "2"  # fewer glibc arenas: lower native RSS
        env.pop("JAVA_TOOL_OPTIONS", None)
        env.pop("_JAVA_OPTIONS", None)
        self.process.start(self.argv(), env=env, cwd=self.data_dir, marker=self._config_flag())

    # --- health ---------------------------------------------------------------------------

    def healthy(self) -> bool:
        return cql_probe(self.settings.host, self.settings.cql_port)

    def credentials_outdated(self) -> bool:
        """Running without asking for a login although the install has a CQL role."""
        s = self.settings
        return bool(s.cql_password) and cql_greeting(s.host, s.cql_port) == "ready"

    def provision(self) -> None:
        """The install's CQL role, and no default superuser (infra/backends/cql_auth.py).
        A node of a ring leaves this to its cluster (infra/cluster.py), which does it once
        for all."""
        from infra.backends.cql_auth import ensure_role

        s = self.settings
        if s.cql_password and self.ring is None:
            ensure_role([s.host], s.cql_port, s.cql_username, s.cql_password)

    def endpoint(self) -> str:
        return f"cql://{self.settings.host}:{self.settings.cql_port}"
