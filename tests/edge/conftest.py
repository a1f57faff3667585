"""Fixtures of the edge tests: the clients nobody here wrote (grpcurl, the npm gRPC-Web
client), installed once into the cache, and accounts made through the edge."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.backends.envoy import EnvoyBackend, private_edge
from infra.contracts import DESCRIPTOR_SET
from infra.edge import EdgeSettings
from infra.install import ensure_grpcurl, ensure_npm_packages
from infra.settings import InfraSettings
from tests.edge.http import request
from tests.helpers import new_username

WEB_CLIENT = Path(__file__).resolve().parent / "web"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def grpcurl_bin(infra_settings: InfraSettings) -> Path:
    return ensure_grpcurl(infra_settings)


@dataclass
class Grpcurl:
    binary: Path
    target: str

    def __call__(self, *command: str, data: Any = None, token: str | None = None,
                 service: str | None = None) -> subprocess.CompletedProcess[str]:
        """`grpcurl -plaintext [-H ...] [-d ...] <edge> <command...>` (`list`, `describe X`
        or a method); `service` routes reflection and health to that service."""
        argv = [str(self.binary), "-plaintext", "-max-time", "10"]
        if token is not None:
            argv += ["-H", f"authorization: Bearer {token}"]
        if service is not None:
            argv += ["-reflect-header", f"x-photomesh-service: {service}",
                     "-rpc-header", f"x-photomesh-service: {service}"]
        if data is not None:
            argv += ["-d", json.dumps(data)]
        argv += [self.target, *command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="session")
def grpcurl(grpcurl_bin: Path, edge: EnvoyBackend) -> Grpcurl:
    return Grpcurl(grpcurl_bin, f"{edge.settings.host}:{edge.settings.envoy_port}")


@pytest.fixture(scope="session")
def web_client_dir(infra_settings: InfraSettings, tmp_path_factory: pytest.TempPathFactory
                   ) -> Path:
    """The npm packages (npm ci, cached) with client.mjs and a descriptor set beside them:
    the contracts plus grpc.health.v1 (connect-web reads services from it at run time)."""
    if shutil.which("node") is None:
        pytest.fail("node is needed for the gRPC-Web client (Node.js >= 18)")
    packages = ensure_npm_packages(infra_settings, WEB_CLIENT)
    from google.protobuf import descriptor_pb2
    from grpc_health.v1 import health_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    health = descriptor_pb2.FileDescriptorProto()
    health_pb2.DESCRIPTOR.CopyToProto(health)
    for message in health.message_type:  # CopyToProto leaves json_name empty
        for f in message.field:
            f.json_name = f.name.split("_")[0] + "".join(
                part.title() for part in f.name.split("_")[1:])
    fds.file.append(health)
    (packages / "client.mjs").write_bytes((WEB_CLIENT / "client.mjs").read_bytes())
    (packages / "descriptors.binpb").write_bytes(fds.SerializeToString())
    return packages


@pytest.fixture(scope="session")
def web(web_client_dir: Path, edge: EnvoyBackend) -> Callable[..., dict[str, Any]]:
    """`web("unary", service, method, request, token=...)` or `web("stream", …, count=N)`:
    one call through the edge with @connectrpc/connect-web over gRPC-Web."""
    def call(kind: str, service: str, method: str, message: dict[str, Any],
             token: str | None = None, count: int = 1) -> dict[str, Any]:
        argv = ["node", "client.mjs", "descriptors.binpb", edge.endpoint(), kind, service,
                method, json.dumps(message)]
        if kind == "stream":
            argv.append(str(count))
        if token is not None:
            argv.append(token)
        done = subprocess.run(argv, cwd=web_client_dir, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    return call


@dataclass
class Account:
    user_id: str
    username: str
    access_token: str
    refresh_token: str


def make_account(edge: EnvoyBackend) -> Account:
    """A fresh user registered over REST through the edge."""
    username = new_username()
    reply = request(edge.settings.envoy_port, "POST", "/v1/auth:register", {
        "requestId": str(uuid.uuid4()), "username": username, "password": PASSWORD})
    assert reply.status == 200, reply.body
    body = reply.json()
    return Account(body["userId"], username, body["tokens"]["accessToken"],
                   body["tokens"]["refreshToken"])


@pytest.fixture
def account(edge: EnvoyBackend) -> Account:
    return make_account(edge)


@pytest.fixture
def request_account(edge: EnvoyBackend) -> Account:
    """A second fresh user (for tests that need two)."""
    return make_account(edge)


@contextmanager
def another_edge(settings: InfraSettings, name: str, mesh_env: Mapping[str, str],
                 limits: EdgeSettings) -> Iterator[EnvoyBackend]:
    """One more private edge beside the session's `edge`, for the mesh whose environment is
    `mesh_env`: its own run dir (config, pid and log named apart from the session edge's)
    holding a copy of the mesh's JWT key pair, so the same tokens verify."""
    run_dir = settings.run_dir / f"edge-{name}"
    keys = run_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    for pem in ("jwt_private.pem", "jwt_public.pem"):
        shutil.copy2(settings.run_dir / "keys" / pem, keys / pem)
    with private_edge(settings.model_copy(update={"run_dir": run_dir}), mesh_env,
                      limits) as envoy:
        yield envoy
