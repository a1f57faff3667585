"""The edge can serve TLS with a certificate generated locally: HTTPS (REST, media) and
gRPC over TLS both work against it, with the certificate as the client's root."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc

from infra.backends.envoy import EnvoyBackend, private_edge
from infra.edge import EdgeSettings
from infra.sandbox import Mesh
from infra.settings import InfraSettings


@pytest.fixture(scope="module")
def tls_edge(mesh: Mesh, backends: InfraSettings, test_run_dir: Path
             ) -> Iterator[EnvoyBackend]:
    settings = backends.model_copy(update={"run_dir": test_run_dir / "tls-edge"})
    with private_edge(settings, mesh.env, EdgeSettings(tls=True)) as envoy:
        yield envoy


def test_https_with_the_local_certificate(tls_edge: EnvoyBackend) -> None:
    assert tls_edge.endpoint().startswith("https://")
    cert = tls_edge.settings.run_dir / "edge-tls" / "cert.pem"
    context = ssl.create_default_context(cafile=str(cert))
    conn = http.client.HTTPSConnection("localhost", tls_edge.settings.envoy_port,
                                       context=context, timeout=15)
    try:
        conn.request("GET", "/v1/auth/jwks")
        reply = conn.getresponse()
        assert reply.status == 200, reply.read()[:200]
        assert b"Ed25519" in reply.read()
    finally:
        conn.close()
    # Plain HTTP on the TLS port is not served.
    plain = http.client.HTTPConnection("127.0.0.1", tls_edge.settings.envoy_port, timeout=5)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        plain.request("GET", "/healthz")
        plain.getresponse().read()
    plain.close()


async def test_grpc_over_tls(tls_edge: EnvoyBackend) -> None:
    import grpc

    cert = (tls_edge.settings.run_dir / "edge-tls" / "cert.pem").read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=cert)
    async with aio.secure_channel(f"localhost:{tls_edge.settings.envoy_port}",
                                  credentials) as channel:
        reply = await auth_grpc.AuthServiceStub(channel).GetPublicKeys(
            auth_pb.GetPublicKeysRequest(), timeout=10)
    assert reply.keys and reply.keys[0].crv == "Ed25519"
