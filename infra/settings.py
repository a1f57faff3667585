"""Typed settings for the local infrastructure (prefix ``PHOTOMESH_``).

Every port and path is a setting. When ``PHOTOMESH_<BACKEND>_EXTERNAL=true`` the backend is
assumed to be running elsewhere at the configured address: it is health-checked, never
installed, started or stopped by us.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: /metrics of each service process at its gRPC port plus this, with `up --observability`.
OBSERVABILITY_METRICS_OFFSET = 2000


def _default_cache() -> Path:
    return Path.home() / ".cache" / "photomesh"


def _default_run() -> Path:
    return Path.home() / ".local" / "state" / "photomesh"


class InfraSettings(BaseSettings):
    """Where things are cached and run, and where each backend listens."""

    model_config = SettingsConfigDict(env_prefix="PHOTOMESH_", extra="ignore", frozen=True)

    cache_dir: Path = Field(default_factory=_default_cache, description="downloads and builds")
    run_dir: Path = Field(default_factory=_default_run, description="data, logs and pid files")
    host: str = Field(default="127.0.0.1",
                      description="where the backends and services listen: loopback or a "
                                  "private address, never where clients reach them")
    edge_host: str = Field(default="127.0.0.1",
                           description="where the edge listens (the only listener clients "
                                       "reach; 0.0.0.0 to serve other machines)")

    # CQL store (Cassandra 5 locally, ScyllaDB in production)
    cassandra_version: str = "5.0.9"
    cql_port: int = 19042
    cassandra_storage_port: int = 17000
    cassandra_heap_mb: int = 768
    cql_external: bool = False
    cql_username: str = Field(default="photomesh",
                              description="the CQL role the services log in as")
    cql_password: str | None = Field(default=None, description="made per install "
                                     "(infra/credentials.py); None: no authentication")

    # NATS with JetStream
    nats_port: int = 14222
    nats_monitor_port: int = 18222
    nats_version: str = "v2.12.15"
    nats_external: bool = False
    nats_user: str = Field(default="photomesh", pattern=r"^[A-Za-z0-9_-]+$")
    nats_password: str | None = Field(default=None, description="made per install; "
                                      "None: no authentication")

    # Redis
    redis_port: int = 16379
    redis_external: bool = False
    redis_password: str | None = Field(default=None, description="made per install; "
                                       "None: no authentication")

    # MinIO
    minio_port: int = 19000
    minio_console_port: int = 19001
    # Made per install (infra/credentials.py), never a default: the root user (the
    # services') and the upload key (PutObject on uploads/ only; it signs upload URLs).
    minio_access_key: str | None = None
    minio_secret_key: str | None = None
    minio_upload_access_key: str | None = None
    minio_upload_secret_key: str | None = None
    minio_external: bool = False
    # MinIO tags no releases on the Go proxy: pin the pseudo-version of a known-good build.
    minio_version: str = "v0.0.0-20260212201848-7aac2a2c5b7c"

    # Envoy (edge)
    envoy_port: int = 18080
    envoy_admin_port: int = 19901

    # Jaeger v2 (`up --observability`): OTLP in, the query API and UI out
    observability: bool = False
    jaeger_otlp_port: int = 14317
    jaeger_ui_port: int = 16686
    jaeger_query_grpc_port: int = 16685
    jaeger_health_port: int = 13133
    jaeger_max_traces: int = Field(default=50_000, ge=100)
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0,
                                      description="share of traces kept with observability")

    # The Python services (infra/layout.py): processes per service and worker, their ports
    # (services/processes.py's plus this offset; replicas 100 apart) and each one's /metrics
    # port (its gRPC port plus the metrics offset). Metrics cost nothing while nobody
    # collects them: no endpoint (and nothing measured) unless an offset is set or
    # `observability` is on, which serves them at the default offset.
    replicas: int = Field(default=1, ge=1, le=9)
    service_port_offset: int = Field(default=0, ge=0, le=9000)
    service_metrics_offset: int = Field(default=0, ge=0, le=9000,
                                        description="0: none (2000 with observability)")

    @model_validator(mode="before")
    @classmethod
    def _credentials_of_the_install(cls, data: Any) -> Any:
        """Credentials not set by the environment come from the run dir's file
        (infra/credentials.py), so every `InfraSettings()` of a run dir sees the same."""
        if not isinstance(data, dict):
            return data
        from infra.credentials import stored

        run_dir = Path(data.get("run_dir") or _default_run())
        return {**stored(run_dir), **data}

    @field_validator("host")
    @classmethod
    def _private(cls, host: str) -> str:
        """Backends and services never listen where clients reach them."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost":
                return host
            raise ValueError(f"{host!r}: give a loopback or private IP address") from None
        if not (address.is_loopback or address.is_private) or address.is_unspecified:
            raise ValueError(f"{host}: the backends and services listen on loopback or a "
                             f"private address only (the edge has its own edge_host)")
        return host

    def redis_url(self, host: str | None = None, port: int | None = None) -> str:
        """The services' Redis URL, with the install's password."""
        auth = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        return f"redis://{auth}{host or self.host}:{port or self.redis_port}/0"

    def nats_url(self, host: str | None = None, port: int | None = None) -> str:
        """The services' URL of one NATS server, with the install's user and password."""
        auth = (f"{self.nats_user}:{quote(self.nats_password, safe='')}@"
                if self.nats_password else "")
        return f"nats://{auth}{host or self.host}:{port or self.nats_port}"

    @property
    def metrics_offset(self) -> int:
        """The /metrics offset in use (0: no endpoint)."""
        if self.service_metrics_offset or not self.observability:
            return self.service_metrics_offset
        return OBSERVABILITY_METRICS_OFFSET

    @property
    def bin_dir(self) -> Path:
        return self.cache_dir / "bin"

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"
