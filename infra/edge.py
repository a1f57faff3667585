"""The Envoy edge's configuration, generated from the contracts.

`edge_config(...)` builds the whole bootstrap (a plain dict, written as JSON) from the
descriptor set (clients/descriptors/photomesh.binpb), the services' addresses and the JWT
public key. One listener serves, on one port:

* gRPC (HTTP/2) and gRPC-Web (HTTP/1.1 or 2): routed by path `/photomesh.<svc>.v1.<S>/…`
  to one cluster per service (several replicas each, gRPC health-checked);
* REST/JSON: every RPC with a `google.api.http` annotation, transcoded to gRPC by
  `grpc_json_transcoder`; gRPC errors come back as HTTP status + JSON `google.rpc.Status`;
* `GET /media/<bucket>/m/<key>`: MinIO, path-style, the public renditions only (never raw
  uploads), without query strings (a pre-signed URL's query cannot ride along), on a path
  Envoy has normalised (``..``, ``//`` and escaped slashes never reach MinIO), with range
  requests and `Cache-Control: public, max-age=31536000, immutable` on 200/206;
* `GET /openapi.json` (clients/openapi/photomesh.openapi.json) and `GET /healthz`;
* grpc.health.v1 and server reflection (both versions): the introspection process
  (services/introspection), which answers for the whole mesh from the same descriptor set;
* `GET /` and `/assets/…`: the reference web app (clients/web, built by infra/web.py).

HTTP filters, in order: strip client-sent identity headers, gRPC-Web, REST transcoding
(so everything after it sees gRPC paths, and its local replies reach REST callers as JSON
status), CORS, JWT (EdDSA, the auth service's public key as a local JWKS; the verified
`sub` becomes `x-photomesh-user`), body size limit (413), local rate limits (429 /
RESOURCE_EXHAUSTED with retry-after: a token bucket per verified user, and on the routes
anyone may call without a token — sign-up, sign-in, media reads — a bucket per client
address), media cache headers (Lua), router. The client's address goes to the services in
`x-photomesh-client-address` (the auth service keys its sign-in throttle on it).

The listener serves plain HTTP/2 and HTTP/1.1 or, with `EdgeSettings.tls`, TLS (ALPN h2 and
http/1.1) with the certificate given or one generated locally (`infra/edge_tls.py`). The
admin listener is on loopback only.

Reads (GET routes and Get*/List*/BatchGet* RPCs) are retried on UNAVAILABLE, reset and
refused connections; nothing else is retried. Limits are `EdgeSettings`
(``PHOTOMESH_EDGE_*``).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.contracts import PUBLIC_PREFIXES, Contracts, Rpc
from services.processes import INTROSPECTION

REPO = Path(__file__).resolve().parents[1]
OPENAPI_DOCUMENT = REPO / "clients" / "openapi" / "photomesh.openapi.json"

USER_HEADER = "x-photomesh-user"        # the verified `sub`, set by the edge only
CLIENT_ADDRESS_HEADER = "x-photomesh-client-address"  # the caller's address, set by the edge
ADMIN_HOST = "127.0.0.1"                # Envoy's admin listener: loopback, never exposed
JWT_PROVIDER = "photomesh"
ISSUER = "photomesh-auth"
AUDIENCE = "photomesh"
IMMUTABLE = "public, max-age=31536000, immutable"  # set by envoy/media_cache.lua
#: The media service's bucket unless PHOTOMESH_MINIO_BUCKET says otherwise
#: (services/runtime/settings.py MinioSettings.bucket).
DEFAULT_MEDIA_BUCKET = "photomesh-media"
#: The health name the process answering every health and reflection call
#: (services.processes.INTROSPECTION) reports its own state under ("" is the whole mesh's).
INTROSPECTION_HEALTH_NAME = "grpc.reflection.v1.ServerReflection"

_TYPE = "type.googleapis.com/envoy."
#: The web app's page: scripts and styles only from the edge itself; calls, images and
#: uploads may go elsewhere (object storage for uploads, a CDN for media).
WEB_APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; "
               "connect-src 'self' http: https:; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'; form-action 'self'")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".map": "application/json"}
PREFLIGHT_CLUSTER = "cors_preflight"  # no endpoints: only the CORS filter answers


class EdgeSettings(BaseSettings):
    """Limits and policies of the edge (prefix ``PHOTOMESH_EDGE_``)."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_EDGE_", extra="ignore", frozen=True)

    rate_limit_requests: int = Field(default=50, ge=1,
                                     description="requests per user per interval")
    rate_limit_interval_seconds: int = Field(default=1, ge=1)
    rate_limit_burst: int = Field(default=100, ge=1, description="bucket size per user")
    max_request_bytes: int = Field(default=1 << 20, ge=1024, description="413 above this")
    request_timeout_seconds: float = Field(default=15.0, gt=0)
    max_grpc_timeout_seconds: float = Field(default=60.0, gt=0,
                                            description="cap on a client's grpc-timeout")
    stream_idle_timeout_seconds: float = Field(default=3600.0, gt=0)
    read_retries: int = Field(default=2, ge=0)
    cors_allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    health_check_interval_seconds: float = Field(default=2.0, gt=0)
    #: More replicas per service, e.g. ``{"post": ["10.0.0.5:50053"]}`` (JSON).
    replicas: dict[str, list[str]] = Field(default_factory=dict)
    #: OTLP/gRPC collector (``host:port``) of the edge's spans; None: no tracing at the edge.
    #: With one, the edge starts a trace for `trace_sample_percent` of the requests that
    #: come without one (W3C traceparent, which it passes on to the services).
    otel_endpoint: str | None = None
    trace_sample_percent: float = Field(default=10.0, ge=0.0, le=100.0)
    #: A listener serving Envoy's Prometheus stats (/stats/prometheus) on every address
    #: (the admin listener stays on loopback); 0: none.
    stats_port: int = Field(default=0, ge=0, le=65535)

    # Callers without a token (sign-up, sign-in, refresh, media reads): per client address.
    anonymous_rate_limit_requests: int = Field(
        default=5, ge=1, description="calls of the public RPCs per client address per "
                                     "anonymous interval")
    anonymous_rate_limit_burst: int = Field(default=20, ge=1,
                                            description="bucket size per client address")
    anonymous_rate_limit_interval_seconds: int = Field(default=1, ge=1)
    media_rate_limit_requests: int = Field(default=200, ge=1,
                                           description="media reads per client address per "
                                                       "second")
    media_rate_limit_burst: int = Field(default=400, ge=1)
    introspection_rate_limit_requests: int = Field(
        default=50, ge=1, description="health and reflection calls (anonymous) per client "
                                      "address per second")
    introspection_rate_limit_burst: int = Field(default=200, ge=1)
    trusted_proxy_hops: int = Field(
        default=0, ge=0, description="load balancers in front of the edge whose "
                                     "X-Forwarded-For entries name the client (0: the edge "
                                     "faces clients; the TCP peer is the client)")

    # TLS on the edge listener.
    tls: bool = Field(default=False, description="serve TLS (h2 and http/1.1 by ALPN)")
    tls_cert_path: Path | None = Field(
        default=None, description="PEM certificate chain; default: one generated locally "
                                  "under the run dir (self-signed, for development)")
    tls_key_path: Path | None = Field(default=None, description="PEM private key of it")


@dataclass(frozen=True)
class Upstreams:
    """Where the edge sends requests: every service's replicas, the introspection
    process's and MinIO."""

    services: Mapping[str, Sequence[tuple[str, int]]]
    minio: tuple[str, int]
    media_bucket: str
    introspection: Sequence[tuple[str, int]]


def upstreams_from_env(env: Mapping[str, str], contracts: Contracts | None = None
                       ) -> Upstreams:
    """Upstreams from a mesh's PHOTOMESH_* service environment (`infra.services.service_env`
    for `./photomesh up`, `Mesh.env` for a test or benchmark mesh): every instance of each
    service that has a contract and of the introspection process (its
    PHOTOMESH_<NAME>_TARGET, infra/layout.py), MinIO, and the media bucket."""
    from infra.layout import target_addresses

    def instances(name: str) -> list[tuple[str, int]]:
        return target_addresses(env[f"PHOTOMESH_{name.upper()}_TARGET"])

    names = sorted({s.mesh_name for s in (contracts or Contracts()).services})
    return Upstreams({name: instances(name) for name in names},
                     _host_port(env["PHOTOMESH_MINIO_ENDPOINT"]),
                     env.get("PHOTOMESH_MINIO_BUCKET", DEFAULT_MEDIA_BUCKET),
                     instances(INTROSPECTION))


def jwks(public_key_pem: bytes) -> dict[str, Any]:
    """The Ed25519 public key as a JWK Set (RFC 8037: kty OKP, crv Ed25519, alg EdDSA)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the JWT public key must be Ed25519")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "x": x}]}


# --- pieces --------------------------------------------------------------------------------

def _seconds(value: float) -> str:
    return f"{value:g}s"


def _typed(kind: str, **fields: Any) -> dict[str, Any]:
    return {"@type": _TYPE + kind, **fields}


def _address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def cluster_name(service: str) -> str:
    return f"svc_{service}"


def _discovery(hosts: Sequence[str]) -> dict[str, Any]:
    """IP addresses are used as they are; names (Kubernetes Service names) are resolved
    every few seconds, each address an endpoint of its own (a headless Service's name
    resolves to its ready pods, so every replica is health-checked and balanced)."""
    def is_ip(host: str) -> bool:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True

    if all(is_ip(h) for h in hosts):
        return {"type": "STATIC"}
    return {"type": "STRICT_DNS", "dns_refresh_rate": "5s", "dns_lookup_family": "V4_PREFERRED"}


def _service_cluster(name: str, replicas: Sequence[tuple[str, int]],
                     settings: EdgeSettings) -> dict[str, Any]:
    """A gRPC cluster, health-checked with grpc.health.v1 ("" for a service; the
    introspection process under its own name, as its "" is the whole mesh's)."""
    health_name = INTROSPECTION_HEALTH_NAME if name == INTROSPECTION else ""
    return {
        "name": cluster_name(name),
        **_discovery([host for host, _ in replicas]),
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _typed(
                "extensions.upstreams.http.v3.HttpProtocolOptions",
                explicit_http_config={"http2_protocol_options": {}}),
        },
        "load_assignment": {"cluster_name": cluster_name(name), "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": _address(host, port)}} for host, port in replicas]}]},
        "health_checks": [{
            "timeout": "1s",
            "interval": _seconds(settings.health_check_interval_seconds),
            "unhealthy_threshold": 2,
            "healthy_threshold": 1,
            "grpc_health_check": {"service_name": health_name},
        }],
        # A replica answering UNAVAILABLE-as-503 or resets repeatedly is ejected for a while.
        "outlier_detection": {"consecutive_gateway_failure": 5, "base_ejection_time": "10s",
                              "max_ejection_percent": 50},
    }


def _minio_cluster(minio: tuple[str, int]) -> dict[str, Any]:
    host, port = minio
    return {
        "name": "minio",
        **_discovery([host]),
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": "minio", "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": _address(host, port)}}]}]},
        "health_checks": [{"timeout": "1s", "interval": "5s", "unhealthy_threshold": 2,
                           "healthy_threshold": 1,
                           "http_health_check": {"path": "/minio/health/live"}}],
    }


def _read_retries(settings: EdgeSettings, grpc: bool = True) -> dict[str, Any]:
    return {"retry_on": ("unavailable," if grpc else "") + "reset,connect-failure,refused-stream",
            "num_retries": settings.read_retries,
            "retry_back_off": {"base_interval": "0.05s", "max_interval": "0.5s"}}


def _rpc_route(rpc: Rpc, cluster: str, settings: EdgeSettings) -> dict[str, Any]:
    """Reads get retries, server streams no overall timeout (only an idle one)."""
    action: dict[str, Any] = {"cluster": cluster}
    if rpc.server_streaming or rpc.client_streaming:
        action["timeout"] = "0s"
        action["idle_timeout"] = _seconds(settings.stream_idle_timeout_seconds)
    else:
        action["timeout"] = _seconds(settings.request_timeout_seconds)
        action["max_stream_duration"] = {
            "grpc_timeout_header_max": _seconds(settings.max_grpc_timeout_seconds)}
        if rpc.read_only and settings.read_retries:
            action["retry_policy"] = _read_retries(settings)
    return {"name": rpc.path, "match": {"path": rpc.path}, "route": action}


def _introspection_routes(settings: EdgeSettings) -> list[dict[str, Any]]:
    """Health and reflection (any version) go to the introspection process: reflection of
    every service, health of the whole mesh ("") and of each process and service. Anyone
    may call them, so they have a token bucket per client address."""
    per_address = _per_address_limit(settings.introspection_rate_limit_requests,
                                     settings.introspection_rate_limit_burst, 1)
    return [{"match": {"prefix": prefix},
             "route": {"cluster": cluster_name(INTROSPECTION), "timeout": "0s"},
             "typed_per_filter_config": {**_no_buffer(), **per_address}}
            for prefix in PUBLIC_PREFIXES]


def _no_buffer() -> dict[str, Any]:
    """Streams in both directions (reflection, health Watch) must not wait for the whole
    request body."""
    return {"envoy.filters.http.buffer": _typed(
        "extensions.filters.http.buffer.v3.BufferPerRoute", disabled=True)}


#: The object keys of public renditions (services/media/objects.py PUBLIC_PREFIX): path
#: segments of safe characters, none starting with a dot.
MEDIA_KEY = r"m(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+"


def _media_routes(bucket: str, settings: EdgeSettings) -> list[dict[str, Any]]:
    """Anonymous reads of public renditions, and nothing else of the bucket: a query string
    (a pre-signed URL's signature) is refused outright, and only paths of MEDIA_KEY (after
    Envoy's normalisation) reach MinIO, as anonymous requests (no credentials forwarded).
    MinIO's bucket policy allows anonymous reads of ``m/*`` only, so both must fail for a raw
    upload to leak."""
    prefix = f"/media/{bucket}/"
    per_address = _per_address_limit(settings.media_rate_limit_requests,
                                     settings.media_rate_limit_burst, 1)
    return [
        {"name": "media_query_refused",
         "match": {"prefix": "/media/", "headers": [
             {"name": ":path", "string_match": {"contains": "?"}}]},
         "direct_response": {"status": 400, "body": {
             "inline_string": "media URLs take no query string\n"}},
         "typed_per_filter_config": per_address},
        {"name": "media",
         "match": {"safe_regex": {"regex": re.escape(prefix) + MEDIA_KEY}, "headers": [
             {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}]},
         "route": {"cluster": "minio",
                   "regex_rewrite": {"pattern": {"regex": "^/media/"}, "substitution": "/"},
                   "timeout": _seconds(max(60.0, settings.request_timeout_seconds)),
                   "retry_policy": _read_retries(settings, grpc=False)},
         # Anonymous reads: MinIO must not see a bearer token, cookies or S3 credentials.
         "request_headers_to_remove": ["authorization", "cookie", "x-amz-security-token",
                                       "x-amz-date", "x-amz-content-sha256"],
         "response_headers_to_remove": ["x-amz-id-2", "x-amz-request-id",
                                        "x-ratelimit-limit", "x-ratelimit-remaining"],
         "typed_per_filter_config": {**per_address, "envoy.filters.http.lua": _typed(
             "extensions.filters.http.lua.v3.LuaPerRoute", name="media")}},
        {"name": "media_refused", "match": {"prefix": "/media/"},
         "direct_response": {"status": 404, "body": {"inline_string": "no such media\n"}},
         "typed_per_filter_config": per_address},
    ]


#: Lua for the media route: immutable caching for objects that exist, none for errors.
MEDIA_LUA = Path(__file__).resolve().parent / "envoy" / "media_cache.lua"


def _web_app_routes(web_app: Path | None) -> list[dict[str, Any]]:
    """The built app's files as direct responses (read by Envoy at start-up): the page
    never cached, assets (content-hashed names) cached for good."""
    from infra.web import app_files

    if web_app is None:
        return []
    routes = []
    for path, file in app_files(web_app).items():
        page = path == "/"
        headers = {"content-type": CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
                   "cache-control": "no-cache" if page else IMMUTABLE,
                   "x-content-type-options": "nosniff"}
        if page:
            headers |= {"content-security-policy": WEB_APP_CSP,
                        "referrer-policy": "same-origin", "x-frame-options": "DENY"}
        routes.append({"match": {"path": path, "headers": [
            {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}]},
            "direct_response": {"status": 200, "body": {"filename": str(file)}},
            "response_headers_to_add": [{"header": {"key": k, "value": v}}
                                        for k, v in headers.items()]})
    return routes


def _routes(contracts: Contracts, upstreams: Upstreams, openapi: Path,
            settings: EdgeSettings, web_app: Path | None = None) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = [
        {"match": {"path": "/healthz"},
         "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}},
        {"match": {"path": "/openapi.json"},
         "direct_response": {"status": 200, "body": {"filename": str(openapi)}},
         "response_headers_to_add": [{"header": {"key": "content-type",
                                                 "value": "application/json"}}]},
        *_web_app_routes(web_app),
        *_media_routes(upstreams.media_bucket, settings),
        *_introspection_routes(settings),
    ]
    anonymous = _per_address_limit(settings.anonymous_rate_limit_requests,
                                   settings.anonymous_rate_limit_burst,
                                   settings.anonymous_rate_limit_interval_seconds)
    for service in contracts.services:
        if service.mesh_name not in upstreams.services:
            continue
        cluster = cluster_name(service.mesh_name)
        # The RPCs anyone may call without a token share one bucket per client address.
        public = [rpc.path for rpc in service.rpcs if rpc.public]
        if public:
            routes.append({
                "name": f"{service.full_name}/public",
                "match": {"safe_regex": {"regex": "|".join(re.escape(p) for p in public)}},
                "route": {"cluster": cluster,
                          "timeout": _seconds(settings.request_timeout_seconds)},
                "typed_per_filter_config": anonymous})
        # Exact routes only where a method differs from its service's default.
        for rpc in service.rpcs:
            if not rpc.public and (rpc.read_only or rpc.server_streaming
                                   or rpc.client_streaming):
                routes.append(_rpc_route(rpc, cluster, settings))
        routes.append({"name": service.full_name, "match": {"prefix": service.prefix},
                       "route": {"cluster": cluster,
                                 "timeout": _seconds(settings.request_timeout_seconds),
                                 "max_stream_duration": {"grpc_timeout_header_max": _seconds(
                                     settings.max_grpc_timeout_seconds)}}})
    # CORS preflights for REST paths: the CORS filter answers them, but only on a route
    # with a cluster (never contacted); direct responses get no CORS headers.
    routes.append({"match": {"prefix": "/", "headers": [
        {"name": ":method", "string_match": {"exact": "OPTIONS"}}]},
        "route": {"cluster": PREFLIGHT_CLUSTER}})
    routes.append({"match": {"prefix": "/"},
                   "direct_response": {"status": 404, "body": {"inline_string": "no route\n"}}})
    return routes


def _jwt_filter(contracts: Contracts, jwks_source: dict[str, str]) -> dict[str, Any]:
    """Tokens are required everywhere except the public RPCs (gRPC and REST alike), health,
    reflection, media reads, the web app's files, /healthz and /openapi.json. Service
    tokens (issuer photomesh-mesh, audience photomesh-internal, another key) never verify
    here."""
    open_rules: list[dict[str, Any]] = [
        {"match": {"path": "/healthz"}}, {"match": {"path": "/openapi.json"}},
        {"match": {"prefix": "/media/"}}, {"match": {"path": "/"}},
        {"match": {"prefix": "/assets/"}},
        *({"match": {"prefix": prefix}} for prefix in PUBLIC_PREFIXES),
    ]
    # REST calls are already transcoded here: one rule per public RPC covers both.
    open_rules += [{"match": {"path": rpc.path}} for rpc in contracts.rpcs() if rpc.public]
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": _typed(
        "extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers={JWT_PROVIDER: {
            "issuer": ISSUER,
            "audiences": [AUDIENCE],
            "local_jwks": jwks_source,
            "forward": True,  # services verify the token again
            "clock_skew_seconds": 5,
            "claim_to_headers": [{"header_name": USER_HEADER, "claim_name": "sub"}],
        }},
        rules=[*open_rules, {"match": {"prefix": "/"},
                             "requires": {"provider_name": JWT_PROVIDER}}],
        bypass_cors_preflight=True,
    )}


def _transcoder(contracts: Contracts, descriptor: Path, settings: EdgeSettings
                ) -> dict[str, Any]:
    return {"name": "envoy.filters.http.grpc_json_transcoder", "typed_config": _typed(
        "extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
        proto_descriptor=str(descriptor),
        services=[s.full_name for s in contracts.services],
        print_options={"add_whitespace": False, "always_print_primitive_fields": True,
                       "always_print_enums_as_ints": False,
                       "preserve_proto_field_names": False},
        convert_grpc_status=True,
        ignore_unknown_query_parameters=True,
        case_insensitive_enum_parsing=True,
        max_request_body_size=settings.max_request_bytes,
        request_validation_options={"reject_unknown_method": False,
                                    "reject_unknown_query_parameters": False},
    )}


def _rate_limit(settings: EdgeSettings) -> dict[str, Any]:
    """Per-user token buckets (one per distinct `sub`): the virtual host's default. Routes
    anyone may call without a token replace it with `_per_address_limit`."""
    return _bucket_per("user", {"request_headers": {"header_name": USER_HEADER,
                                                    "descriptor_key": "user"}},
                       settings.rate_limit_requests, settings.rate_limit_burst,
                       settings.rate_limit_interval_seconds)


def _per_address_limit(requests: int, burst: int, interval_seconds: int) -> dict[str, Any]:
    """A route's `typed_per_filter_config`: a token bucket per client address (the TCP
    peer, or the X-Forwarded-For entry `trusted_proxy_hops` back)."""
    return {"envoy.filters.http.local_ratelimit": _bucket_per(
        "remote_address", {"remote_address": {}}, requests, burst, interval_seconds)}


def _bucket_per(key: str, action: dict[str, Any], requests: int, burst: int,
                interval_seconds: int) -> dict[str, Any]:
    """Local rate limit with one token bucket per distinct value of descriptor `key`."""
    bucket = {"max_tokens": burst, "tokens_per_fill": requests,
              "fill_interval": _seconds(interval_seconds)}
    return _typed(
        "extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix=f"edge_{key}_rate",
        # The route-wide bucket is big enough never to bind: only per-user buckets limit.
        token_bucket={"max_tokens": 1_000_000, "tokens_per_fill": 1_000_000,
                      "fill_interval": "1s"},
        filter_enabled={"default_value": {"numerator": 100, "denominator": "HUNDRED"},
                        "runtime_key": "edge_rate_limit_enabled"},
        filter_enforced={"default_value": {"numerator": 100, "denominator": "HUNDRED"},
                         "runtime_key": "edge_rate_limit_enforced"},
        descriptors=[{"entries": [{"key": key}], "token_bucket": bucket}],
        rate_limits=[{"actions": [action]}],
        max_dynamic_descriptors=100_000,
        always_consume_default_token_bucket=False,
        rate_limited_as_resource_exhausted=True,
        response_headers_to_add=[{"header": {
            "key": "retry-after", "value": str(interval_seconds)}}],
    )


def _cors(settings: EdgeSettings) -> dict[str, Any]:
    origins = [{"safe_regex": {"regex": ".*"}} if o == "*" else {"exact": o}
               for o in settings.cors_allowed_origins]
    return _typed(
        "extensions.filters.http.cors.v3.CorsPolicy",
        allow_origin_string_match=origins,
        allow_methods="GET, PUT, POST, PATCH, DELETE, OPTIONS",
        allow_headers=("authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, "
                       "connect-protocol-version, connect-timeout-ms, range"),
        expose_headers=("grpc-status, grpc-message, grpc-status-details-bin, retry-after, "
                        "content-range, accept-ranges"),
        max_age="86400",
    )


def edge_config(*, host: str, port: int, admin_port: int, upstreams: Upstreams,
                descriptor: Path, public_key_pem: bytes | None = None,
                jwks_file: str | None = None, openapi: Path = OPENAPI_DOCUMENT,
                lua: Path = MEDIA_LUA, admin_host: str = ADMIN_HOST,
                settings: EdgeSettings | None = None,
                contracts: Contracts | None = None,
                tls: tuple[Path, Path] | None = None,
                web_app: Path | None = None) -> dict[str, Any]:
    """The Envoy bootstrap for the edge, as a dict (JSON-serialisable).

    The JWT public key is inlined (`public_key_pem`) or read by Envoy from a JWKS file at
    start (`jwks_file`, e.g. mounted from a Kubernetes Secret). The edge listens on `host`
    (where clients reach it); the admin listener on `admin_host` (loopback). `tls` is
    (certificate chain, private key) for a TLS listener. `descriptor`, `openapi`, `lua`
    and the TLS files are paths as Envoy sees them. `web_app` is a build of infra/web.py
    served at `/` (none: no app).
    """
    settings = settings or EdgeSettings()
    contracts = contracts or Contracts()
    if (public_key_pem is None) == (jwks_file is None):
        raise ValueError("give exactly one of public_key_pem and jwks_file")
    jwks_source = ({"filename": jwks_file} if jwks_file is not None
                   else {"inline_string": json.dumps(jwks(public_key_pem or b""))})
    hcm = _typed(
        "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="edge",
        codec_type="AUTO",
        use_remote_address=True,
        xff_num_trusted_hops=settings.trusted_proxy_hops,
        # One spelling of every path before routing: `.` and `..` resolved, `//` merged,
        # escaped slashes refused (no route can be reached by a path it does not match).
        normalize_path=True,
        merge_slashes=True,
        path_with_escaped_slashes_action="REJECT_REQUEST",
        stream_idle_timeout=_seconds(settings.stream_idle_timeout_seconds),
        http2_protocol_options={"max_concurrent_streams": 1000},
        **_tracing(settings),
        route_config={
            "name": "edge",
            "max_direct_response_body_size_bytes": 4 << 20,
            "virtual_hosts": [{
                "name": "edge",
                "domains": ["*"],
                "routes": _routes(contracts, upstreams, openapi, settings, web_app),
                # Services read the caller's address from here (any client copy replaced).
                "request_headers_to_add": [{
                    "header": {"key": CLIENT_ADDRESS_HEADER,
                               "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
                "typed_per_filter_config": {
                    "envoy.filters.http.cors": _cors(settings),
                    "envoy.filters.http.local_ratelimit": _rate_limit(settings),
                },
            }],
        },
        http_filters=[
            {"name": "envoy.filters.http.header_mutation", "typed_config": _typed(
                "extensions.filters.http.header_mutation.v3.HeaderMutation",
                mutations={"request_mutations": [{"remove": USER_HEADER}]})},
            {"name": "envoy.filters.http.grpc_web",
             "typed_config": _typed("extensions.filters.http.grpc_web.v3.GrpcWeb")},
            # Transcoding first: every filter after it (and the routes) sees gRPC paths, and
            # their local replies (401, 413, 429) come back to REST callers as JSON status.
            _transcoder(contracts, descriptor, settings),
            {"name": "envoy.filters.http.cors",
             "typed_config": _typed("extensions.filters.http.cors.v3.Cors")},
            _jwt_filter(contracts, jwks_source),
            {"name": "envoy.filters.http.buffer", "typed_config": _typed(
                "extensions.filters.http.buffer.v3.Buffer",
                max_request_bytes=settings.max_request_bytes)},
            {"name": "envoy.filters.http.local_ratelimit", "typed_config": _typed(
                "extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                stat_prefix="edge_rate")},
            {"name": "envoy.filters.http.lua", "typed_config": _typed(
                "extensions.filters.http.lua.v3.Lua",
                source_codes={"media": {"filename": str(lua)}})},
            {"name": "envoy.filters.http.router",
             "typed_config": _typed("extensions.filters.http.router.v3.Router")},
        ],
    )
    edge_listener = {
        "name": "edge",
        "address": _address(host, port),
        "per_connection_buffer_limit_bytes": 1 << 20,
        "filter_chains": [{
            "filters": [{"name": "envoy.filters.network.http_connection_manager",
                         "typed_config": hcm}],
            **({"transport_socket": _tls_socket(*tls)} if tls else {}),
        }],
    }
    replicas = {name: list(endpoints) for name, endpoints in upstreams.services.items()}
    replicas[INTROSPECTION] = list(upstreams.introspection)
    for name, extra in settings.replicas.items():
        if name in replicas:
            replicas[name] += [_host_port(e) for e in extra]
    return {
        "node": {"id": "photomesh-edge", "cluster": "photomesh-edge"},
        "admin": {"address": _address(admin_host, admin_port)},
        "static_resources": {
            "listeners": [edge_listener, *_stats_listener(host, settings)],
            "clusters": [*(_service_cluster(name, endpoints, settings)
                           for name, endpoints in replicas.items()),
                         *_telemetry_clusters(admin_host or host, admin_port, settings),
                         _minio_cluster(upstreams.minio),
                         {"name": PREFLIGHT_CLUSTER, "type": "STATIC", "connect_timeout": "1s",
                          "load_assignment": {"cluster_name": PREFLIGHT_CLUSTER,
                                              "endpoints": []}}],
        },
    }


def _tls_socket(cert: Path, key: Path) -> dict[str, Any]:
    """Downstream TLS (1.2+), HTTP/2 and HTTP/1.1 offered by ALPN."""
    return {"name": "envoy.transport_sockets.tls", "typed_config": _typed(
        "extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        common_tls_context={
            "alpn_protocols": ["h2", "http/1.1"],
            "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
            "tls_certificates": [{"certificate_chain": {"filename": str(cert)},
                                  "private_key": {"filename": str(key)}}],
        })}


OTEL_CLUSTER = "otel_collector"
ADMIN_CLUSTER = "envoy_admin"


def _tracing(settings: EdgeSettings) -> dict[str, Any]:
    """The connection manager's tracing: OpenTelemetry spans over OTLP/gRPC, W3C trace
    context to the services (which continue the trace: parent-based sampling)."""
    if settings.otel_endpoint is None:
        return {}
    return {"tracing": {
        "random_sampling": {"value": settings.trace_sample_percent},
        "provider": {"name": "envoy.tracers.opentelemetry", "typed_config": _typed(
            "config.trace.v3.OpenTelemetryConfig",
            grpc_service={"envoy_grpc": {"cluster_name": OTEL_CLUSTER}, "timeout": "1s"},
            service_name="photomesh-edge")},
    }}


def _telemetry_clusters(admin_host: str, admin_port: int, settings: EdgeSettings
                        ) -> list[dict[str, Any]]:
    clusters = []
    if settings.otel_endpoint is not None:
        host, port = _host_port(settings.otel_endpoint)
        clusters.append({
            "name": OTEL_CLUSTER, **_discovery([host]), "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _typed(
                    "extensions.upstreams.http.v3.HttpProtocolOptions",
                    explicit_http_config={"http2_protocol_options": {}})},
            "load_assignment": {"cluster_name": OTEL_CLUSTER, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": _address(host, port)}}]}]}})
    if settings.stats_port:
        clusters.append({
            "name": ADMIN_CLUSTER, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": ADMIN_CLUSTER, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": _address(admin_host, admin_port)}}]}]}})
    return clusters


def _stats_listener(host: str, settings: EdgeSettings) -> list[dict[str, Any]]:
    """GET /stats/prometheus (only that) from the admin listener, for the scraper."""
    if not settings.stats_port:
        return []
    hcm = _typed(
        "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="stats", codec_type="AUTO",
        route_config={"name": "stats", "virtual_hosts": [{
            "name": "stats", "domains": ["*"], "routes": [
                {"match": {"path": "/stats/prometheus", "headers": [
                    {"name": ":method", "string_match": {"exact": "GET"}}]},
                 "route": {"cluster": ADMIN_CLUSTER}},
                {"match": {"prefix": "/"},
                 "direct_response": {"status": 404, "body": {"inline_string": "no route\n"}}}]}]},
        http_filters=[{"name": "envoy.filters.http.router",
                       "typed_config": _typed("extensions.filters.http.router.v3.Router")}])
    return [{"name": "stats", "address": _address(host, settings.stats_port),
             "filter_chains": [{"filters": [
                 {"name": "envoy.filters.network.http_connection_manager",
                  "typed_config": hcm}]}]}]


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def edge_descriptor(out: Path, base: Path, *, source_info: bool = True) -> Path:
    """The transcoder's descriptor set: the contracts plus google.rpc.Status and its error
    details, so errors print as JSON with their ErrorInfo/BadRequest/RetryInfo. Without
    `source_info` the comments are dropped (the transcoder does not need them)."""
    from google.protobuf import descriptor_pb2
    from google.rpc import error_details_pb2, status_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(base.read_bytes())
    if not source_info:
        for file in fds.file:
            file.ClearField("source_code_info")
    have = {f.name for f in fds.file}
    extra: list[descriptor_pb2.FileDescriptorProto] = []

    def add(file_descriptor: Any) -> None:
        for dep in file_descriptor.dependencies:
            add(dep)
        if file_descriptor.name not in have:
            proto = descriptor_pb2.FileDescriptorProto()
            file_descriptor.CopyToProto(proto)
            extra.append(proto)
            have.add(file_descriptor.name)

    add(status_pb2.DESCRIPTOR)
    add(error_details_pb2.DESCRIPTOR)
    fds.file.extend(extra)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(fds.SerializeToString())
    return out


def write_edge_config(run_dir: Path, *, host: str, port: int, admin_port: int,
                      upstreams: Upstreams, public_key_pem: bytes,
                      settings: EdgeSettings | None = None,
                      descriptor_set: Path | None = None,
                      web_app: Path | None = None) -> Path:
    """Render the edge into run_dir/envoy/ (envoy.json + its descriptor set, and with TLS
    on a certificate unless one is given); returns the config path."""
    from infra.contracts import DESCRIPTOR_SET

    settings = settings or EdgeSettings()
    base = descriptor_set or DESCRIPTOR_SET
    directory = run_dir / "envoy"
    descriptor = edge_descriptor(directory / "edge.binpb", base)
    tls = None
    if settings.tls:
        from infra.edge_tls import ensure_certificate

        tls = ((settings.tls_cert_path, settings.tls_key_path)
               if settings.tls_cert_path and settings.tls_key_path
               else ensure_certificate(run_dir / "edge-tls", host))
    config = edge_config(host=host, port=port, admin_port=admin_port, upstreams=upstreams,
                         public_key_pem=public_key_pem, descriptor=descriptor,
                         settings=settings, contracts=Contracts(base), tls=tls,
                         web_app=web_app)
    path = directory / "envoy.json"
    path.write_text(json.dumps(config, indent=1) + "\n")
    return path
