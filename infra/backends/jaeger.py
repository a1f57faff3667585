"""Jaeger v2: the trace viewer of `./photomesh up --observability` (and of the tests).

One process (infra/install.py `ensure_jaeger`) receiving OTLP/gRPC from every service and
the edge, keeping traces in memory, serving its query API (``/api/traces/<id>``,
``/api/traces?service=...``) and UI URL on the query port. Config under
run_dir/jaeger/config.yaml; nothing is written to disk besides it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.backends.base import Backend, http_status, wait_until
from infra.settings import InfraSettings

CONFIG = """\
# Jaeger v2 for photomesh (infra/backends/jaeger.py): OTLP/gRPC in, traces in memory.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {host}:{health_port}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: {host}:{ui_port}
    grpc:
      endpoint: {host}:{query_grpc_port}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: {max_traces}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {host}:{otlp_port}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


class JaegerBackend(Backend):
    """`jaeger --config run_dir/jaeger/config.yaml`."""

    name = "jaeger"

    @property
    def config_path(self) -> Path:
        return self.settings.run_dir / "jaeger" / "config.yaml"

    def ports(self) -> dict[str, int]:
        s = self.settings
        return {"PHOTOMESH_JAEGER_OTLP_PORT": s.jaeger_otlp_port,
                "PHOTOMESH_JAEGER_UI_PORT": s.jaeger_ui_port,
                "PHOTOMESH_JAEGER_QUERY_GRPC_PORT": s.jaeger_query_grpc_port,
                "PHOTOMESH_JAEGER_HEALTH_PORT": s.jaeger_health_port}

    def binary(self) -> Path:
        from infra.install import JAEGER_VERSION

        return self.settings.cache_dir / "tools" / f"jaeger-{JAEGER_VERSION}" / "jaeger"

    def installed(self) -> bool:
        return self.binary().exists()

    def install(self) -> None:
        from infra.install import ensure_jaeger

        ensure_jaeger(self.settings)

    def render_config(self) -> Path:
        s = self.settings
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(CONFIG.format(
            host=s.host, health_port=s.jaeger_health_port, ui_port=s.jaeger_ui_port,
            query_grpc_port=s.jaeger_query_grpc_port, otlp_port=s.jaeger_otlp_port,
            max_traces=s.jaeger_max_traces))
        return self.config_path

    def start(self) -> None:
        self.render_config()
        self.process.start([str(self.binary()), "--config", str(self.config_path)],
                           marker=str(self.config_path))

    def healthy(self) -> bool:
        s = self.settings
        return http_status(f"http://{s.host}:{s.jaeger_health_port}/status") == 200 and \
            http_status(f"{self.ui_url()}/api/services") == 200

    def otlp_endpoint(self) -> str:
        return f"{self.settings.host}:{self.settings.jaeger_otlp_port}"

    def ui_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.jaeger_ui_port}"

    def endpoint(self) -> str:
        return f"{self.ui_url()} (OTLP grpc://{self.otlp_endpoint()})"


@contextmanager
def private_jaeger(settings: InfraSettings) -> Iterator[JaegerBackend]:
    """A Jaeger of its own (free ports, config under `settings.run_dir`) for a test;
    installed if needed, healthy before it is yielded, stopped afterwards."""
    from infra.sandbox import free_port

    own = settings.model_copy(update={
        "jaeger_otlp_port": free_port(), "jaeger_ui_port": free_port(),
        "jaeger_query_grpc_port": free_port(), "jaeger_health_port": free_port()})
    jaeger = JaegerBackend(own)
    jaeger.install()
    jaeger.start()
    try:
        started = time.monotonic()
        wait_until(jaeger.process.is_running, 5.0, "jaeger exec")
        wait_until(jaeger.healthy, max(5.0, 60.0 - (time.monotonic() - started)), "jaeger",
                   jaeger.process)
        yield jaeger
    finally:
        jaeger.stop()
