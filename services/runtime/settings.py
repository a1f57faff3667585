"""Typed settings from the environment.

Each service has one settings class with its own prefix (``PHOTOMESH_POST_`` …) holding its
server options; the backends it uses are configured once for all services by the classes
below (``PHOTOMESH_CQL_``, ``PHOTOMESH_REDIS_`` …). `load` validates at start-up and stops
the process with a message naming each bad or missing variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)


class SettingsError(SystemExit):
    """Start-up stops here: the message names every offending environment variable."""


def _prefix_of(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix", ""))


def load(cls: type[S]) -> S:
    """Build settings `cls` from the environment or exit with a readable message."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = _prefix_of(cls)
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            lines.append(f"  {prefix}{field.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError(
            f"invalid settings for {cls.__name__}:\n" + "\n".join(lines)
        ) from None


def service_config(name: str) -> SettingsConfigDict:
    """The model config of a settings class with prefix ``PHOTOMESH_<NAME>_``."""
    return SettingsConfigDict(env_prefix=f"PHOTOMESH_{name.upper()}_", extra="ignore",
                              frozen=True)


class ServiceSettings(BaseSettings):
    """What a service's processes share: its rules' tunables (one class per service, in
    ``services/<name>/settings.py``, with `service_config(name)`; its workers load it too)."""

    model_config = service_config("SERVICE")


class ServerSettings(BaseSettings):
    """One process's gRPC server, prefix ``PHOTOMESH_<PROCESS>_`` (`server_settings`)."""

    model_config = service_config("SERVER")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    grace_seconds: float = Field(default=10.0, ge=0, description="drain time on SIGTERM")
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_connection_age_seconds: float = Field(
        default=0.0, ge=0, description="0: connections live on; else clients are asked to "
                                       "reconnect this often, so they spread over replicas "
                                       "added since (calls in flight finish first)")
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Prometheus /metrics of this process on host:metrics_port "
                    "(services/runtime/metrics.py); None: no endpoint, nothing measured")


def server_settings_class(process: str, default_port: int) -> type[ServerSettings]:
    """The ServerSettings of `process`: prefix ``PHOTOMESH_<PROCESS>_``, its default port."""
    name = process.title().replace("_", "") + "ServerSettings"
    return type(name, (ServerSettings,), {
        "model_config": service_config(process),
        "__annotations__": {"port": int},
        "port": Field(default=default_port, ge=0, le=65535),
    })


class CqlSettings(BaseSettings):
    """The CQL store: Cassandra locally, ScyllaDB in production — only these values differ."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_CQL_", extra="ignore", frozen=True)

    contact_points: list[str] = ["127.0.0.1"]
    port: int = 19042
    keyspace: str = Field(default="photomesh", pattern=r"^[a-z][a-z0-9_]{0,47}$")
    local_dc: str | None = Field(default=None, description="None: learn it from the first host")
    consistency: Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"] = "LOCAL_QUORUM"
    serial_consistency: Literal["SERIAL", "LOCAL_SERIAL"] = "LOCAL_SERIAL"
    replication: str = Field(
        default="{'class': 'SimpleStrategy', 'replication_factor': 1}",
        description="CQL replication map used when the keyspace is created",
    )
    keyspace_options: str = Field(
        default="", description="appended to CREATE KEYSPACE; on ScyllaDB with tablets "
                                "use \"AND tablets = {'enabled': false}\" (LWT needs vnodes)")
    username: str | None = None
    password: str | None = None
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    reconnect_max_seconds: float = Field(
        default=5.0, gt=0, le=600,
        description="a node seen down is tried again at most this long apart (exponential "
                    "from 0.5 s); the driver's default, 600 s, left the mesh failing for "
                    "half a minute after a node that was down 40 s had returned")


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_REDIS_", extra="ignore", frozen=True)

    url: str = Field(default="redis://127.0.0.1:16379/0", pattern=r"^rediss?://")
    key_prefix: str = Field(default="pm:", description="namespaces every key (tests use their own)")
    socket_timeout_seconds: float = Field(default=2.0, gt=0)


class NatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_NATS_", extra="ignore", frozen=True)

    url: str = Field(default="nats://127.0.0.1:14222", pattern=r"^(nats|tls)://")
    stream_prefix: str = Field(default="PM", pattern=r"^[A-Za-z0-9_]+$",
                               description="streams are named <prefix>_<DOMAIN>")
    subject_prefix: str = Field(default="pm", pattern=r"^[A-Za-z0-9_]+$",
                                description="subjects are <prefix>.<domain>.<event>")
    replicas: int = Field(default=1, ge=1, le=5)
    max_deliver: int = Field(default=10, ge=1, description="then the message is dead-lettered")
    ack_wait_seconds: float = Field(default=30.0, gt=0)


class MinioSettings(BaseSettings):
    """MinIO: no key has a default (each install makes its own: infra/credentials.py, or
    `./photomesh k8s secrets`)."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_MINIO_", extra="ignore", frozen=True)

    endpoint: str = "127.0.0.1:19000"
    access_key: str = Field(min_length=3, description="the services' MinIO user")
    secret_key: str = Field(min_length=8)
    upload_access_key: str = Field(
        min_length=3, description="signs upload URLs: a MinIO user allowed PutObject under "
                                  "uploads/ only (made by the media service at start-up)")
    upload_secret_key: str = Field(min_length=8)
    secure: bool = False
    region: str = "us-east-1"
    bucket: str = Field(default="photomesh-media", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")


class TelemetrySettings(BaseSettings):
    """OpenTelemetry: spans go over OTLP/gRPC when an endpoint is set."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_OTEL_", extra="ignore", frozen=True)

    endpoint: str | None = Field(default=None, description="e.g. 127.0.0.1:4317")
    insecure: bool = True
    sample_ratio: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="share of the traces this process starts that are kept (parent-based: "
                    "a call that arrives sampled stays sampled)")


class LogSettings(BaseSettings):
    """The process's log lines: JSON objects (with the trace and span id of the call being
    served) or plain text for a person at a terminal."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_LOG_", extra="ignore", frozen=True)

    format: Literal["json", "text"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class AuthSettings(BaseSettings):
    """How every service verifies callers: the auth service's public key (zero trust)."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_JWT_", extra="ignore", frozen=True)

    public_key_path: Path
    service_key_path: Path | None = Field(
        default=None, description="this process's own service key (Ed25519 PEM): it signs "
                                  "the service tokens of its calls made as itself, and its "
                                  "page-token key is derived from it")
    service_public_keys_path: Path | None = Field(
        default=None, description="the public keys of every service (JSON name -> PEM): "
                                  "service tokens are verified with these only")
    issuer: str = "photomesh-auth"
    audience: str = "photomesh"
    leeway_seconds: float = Field(default=5.0, ge=0)


class PeerSettings(BaseSettings):
    """Where the other services listen (``PHOTOMESH_<NAME>_TARGET=host:port``)."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_", extra="ignore", frozen=True)

    auth_target: str = "127.0.0.1:50051"
    graph_target: str = "127.0.0.1:50052"
    post_target: str = "127.0.0.1:50053"
    feed_target: str = "127.0.0.1:50054"
    story_target: str = "127.0.0.1:50055"
    media_target: str = "127.0.0.1:50056"
    notification_target: str = "127.0.0.1:50057"
    message_target: str = "127.0.0.1:50059"

    def targets(self) -> dict[str, str]:
        """Service name -> gRPC target."""
        return {name.removesuffix("_target"): value
                for name, value in self.model_dump().items() if name.endswith("_target")}


class StreamSettings(BaseSettings):
    """Limits of server streams (prefix ``PHOTOMESH_STREAMS_``), for every service."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_STREAMS_", extra="ignore",
                                      frozen=True)

    max_per_user: int = Field(default=5, ge=1, description="open server streams per user")
    check_seconds: float = Field(default=2.0, gt=0,
                                 description="how often open streams look for sign-outs")
    lease_seconds: int = Field(default=30, ge=5,
                               description="a stream of a dead process stops counting after")
