"""Typed settings for the local infrastructure (prefix ``PHOTOMESH_``).

Every port and path is a setting. When ``PHOTOMESH_<BACKEND>_EXTERNAL=true`` the backend is
assumed to be running elsewhere at the configured address: it is health-checked, never
installed, started or stopped by us.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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

    # NATS with JetStream
    nats_port: int = 14222
    nats_monitor_port: int = 18222
    nats_version: str = "v2.12.15"
    nats_external: bool = False

    # Redis
    redis_port: int = 16379
    redis_external: bool = False

    # MinIO
    minio_port: int = 19000
    minio_console_port: int = 19001
    minio_access_key: str = "photomesh"
    minio_secret_key: str = "photomesh-dev-secret"
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
