"""The edge configuration generated from the contracts: what it routes, protects, retries,
and that Envoy itself accepts it (`envoy --mode validate`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.backends.envoy import EnvoyBackend
from infra.contracts import PUBLIC_RPCS, Contracts
from infra.edge import DEFAULT_MEDIA_BUCKET, jwks
from infra.services import SERVICE_PORTS, service_env
from infra.settings import InfraSettings
from services.auth.server import PUBLIC_RPCS as AUTH_PUBLIC_RPCS
from services.runtime.settings import MinioSettings


def test_public_rpcs_agree_with_the_auth_service() -> None:
    assert PUBLIC_RPCS == {"photomesh.auth.v1.AuthService": frozenset(AUTH_PUBLIC_RPCS)}


def test_default_media_bucket_is_the_media_services() -> None:
    # The declared default, not this test run's bucket (run_env sets PHOTOMESH_MINIO_BUCKET).
    assert MinioSettings.model_fields["bucket"].default == DEFAULT_MEDIA_BUCKET


def test_contracts_reads_and_streams() -> None:
    rpcs = {rpc.path: rpc for rpc in Contracts().rpcs()}
    assert rpcs["/photomesh.feed.v1.FeedService/GetHomeFeed"].read_only
    assert rpcs["/photomesh.media.v1.MediaService/BatchGetMedia"].read_only
    assert not rpcs["/photomesh.post.v1.PostService/CreatePost"].read_only
    assert not rpcs["/photomesh.post.v1.PostService/LikePost"].read_only
    assert rpcs["/photomesh.feed.v1.FeedService/StreamHomeFeed"].server_streaming
    assert rpcs["/photomesh.auth.v1.AuthService/Login"].public
    assert not rpcs["/photomesh.media.v1.MediaService/GetMedia"].public


def test_jwks_is_the_okp_form_of_the_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    (jwk,) = jwks(pem)["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == raw


def _default_config(tmp_path: Path) -> tuple[EnvoyBackend, dict]:
    """The edge `./photomesh up` configures (default ports), in a scratch run dir."""
    settings = InfraSettings().model_copy(update={"run_dir": tmp_path})
    envoy = EnvoyBackend(settings)
    envoy.validate()
    return envoy, json.loads(envoy.config_path.read_text())


def test_up_config_is_valid_and_routes_every_service(tmp_path: Path) -> None:
    envoy, config = _default_config(tmp_path)
    assert envoy.config_path == tmp_path / "envoy" / "envoy.json"
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for name in {s.mesh_name for s in Contracts().services}:
        endpoints = clusters[f"svc_{name}"]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert [e["endpoint"]["address"]["socket_address"]["port_value"]
                for e in endpoints] == [SERVICE_PORTS[name]]
        assert "grpc_health_check" in clusters[f"svc_{name}"]["health_checks"][0]
    (listener,) = config["static_resources"]["listeners"]
    assert listener["address"]["socket_address"]["port_value"] == 18080
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    filters = [f["name"] for f in hcm["http_filters"]]
    assert filters.index("envoy.filters.http.grpc_web") < filters.index(
        "envoy.filters.http.grpc_json_transcoder") < filters.index(
        "envoy.filters.http.cors") < filters.index("envoy.filters.http.jwt_authn")
    assert filters[-1] == "envoy.filters.http.router"
    # The JWT key is the run dir's public key.
    jwt = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")
    provider = jwt["typed_config"]["providers"]["photomesh"]
    env = service_env(envoy.settings)
    assert json.loads(provider["local_jwks"]["inline_string"]) == jwks(
        Path(env["PHOTOMESH_JWT_PUBLIC_KEY_PATH"]).read_bytes())
    assert (provider["issuer"], provider["audiences"]) == ("photomesh-auth", ["photomesh"])


def test_only_reads_are_retried_and_streams_have_no_timeout(tmp_path: Path) -> None:
    _, config = _default_config(tmp_path)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    by_path = {r["match"].get("path"): r for r in routes if "path" in r["match"]}
    by_prefix = {r["match"]["prefix"]: r for r in routes
                 if "prefix" in r["match"] and "headers" not in r["match"]}
    get_media = by_path["/photomesh.media.v1.MediaService/GetMedia"]["route"]
    assert "unavailable" in get_media["retry_policy"]["retry_on"]
    stream = by_path["/photomesh.feed.v1.FeedService/StreamHomeFeed"]["route"]
    assert stream["timeout"] == "0s" and "retry_policy" not in stream
    assert "/photomesh.post.v1.PostService/CreatePost" not in by_path
    post_default = by_prefix["/photomesh.post.v1.PostService/"]["route"]
    assert "retry_policy" not in post_default and post_default["timeout"] == "15s"
