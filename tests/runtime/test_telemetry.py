"""Tracing costs nothing when nobody collects it, and samples by ratio when someone does.
Each case runs in a fresh interpreter: the tracer provider is process-global."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from infra import services as mesh_services


def _run(code: str) -> None:
    env = mesh_services.process_env(mesh_services.InfraSettings(), "feed")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            cwd=mesh_services.REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_without_an_endpoint_no_provider_no_interceptors_no_spans() -> None:
    _run("""
        from opentelemetry import trace
        from services.runtime import telemetry
        from services.runtime.settings import TelemetrySettings

        assert telemetry.setup_tracing("feed", TelemetrySettings(endpoint=None)) is None
        assert not telemetry.active()
        assert telemetry.server_interceptors() == [] and telemetry.client_interceptors() == []
        with telemetry.span("work"):
            assert trace.get_current_span() is trace.INVALID_SPAN  # no span object made
        assert "traceparent" not in telemetry.inject_headers({"Nats-Msg-Id": "1"})
    """)


def test_with_an_endpoint_spans_are_sampled_by_the_parent_based_ratio() -> None:
    _run("""
        from opentelemetry import trace
        from opentelemetry.sdk.trace.sampling import ParentBased
        from services.runtime import telemetry
        from services.runtime.settings import TelemetrySettings

        provider = telemetry.setup_tracing(
            "feed", TelemetrySettings(endpoint="127.0.0.1:9", sample_ratio=0.25))
        assert telemetry.active() and len(telemetry.server_interceptors()) == 1
        assert isinstance(provider.sampler, ParentBased)
        assert "0.25" in provider.sampler.get_description()
        with telemetry.span("work") as span:
            assert span is trace.get_current_span()
            headers = telemetry.inject_headers()
            if span.get_span_context().trace_flags.sampled:
                assert "traceparent" in headers
        provider.shutdown()
    """)


def test_the_default_ratio_keeps_a_tenth_of_new_traces() -> None:
    from services.runtime.settings import TelemetrySettings

    assert TelemetrySettings(endpoint=None).sample_ratio == 0.1
