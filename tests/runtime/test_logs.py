"""Structured logs: every line a service writes is a JSON object, and a line written while a
traced call or event is handled carries that trace's id and span id, so it leads to the
trace the collector received."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from photomesh.media.v1 import media_service_pb2 as media_pb

from infra import services as mesh_services
from infra.layout import SERVICES
from infra.sandbox import Mesh
from tests.feed.support import eventually
from tests.helpers import register
from tests.media_support import upload_media, wait_for_status
from tests.otlp_collector import OtlpCollector


def test_a_line_inside_a_span_carries_its_ids_and_one_outside_carries_none() -> None:
    code = textwrap.dedent("""
        import json, logging, sys
        from opentelemetry.sdk.trace import TracerProvider
        from services.runtime import logs
        from services.runtime.settings import LogSettings

        logs.configure("post", LogSettings(format="json"))
        tracer = TracerProvider().get_tracer("test")
        logging.getLogger("x").info("outside")
        with tracer.start_as_current_span("call") as span:
            logging.getLogger("x").warning("inside %s", "a span")
            ctx = span.get_span_context()
            print(f"{ctx.trace_id:032x} {ctx.span_id:016x}")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("x").exception("failed")
    """)
    env = mesh_services.process_env(mesh_services.InfraSettings(), "post")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=mesh_services.REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    trace_id, span_id = done.stdout.split()
    outside, inside, failed = (json.loads(line) for line in done.stderr.splitlines())
    assert outside["message"] == "outside" and outside["trace_id"] is None
    assert outside["process"] == "post" and outside["level"] == "INFO"
    assert inside["message"] == "inside a span" and inside["level"] == "WARNING"
    assert (inside["trace_id"], inside["span_id"]) == (trace_id, span_id)
    assert "ValueError: boom" in failed["exception"]


async def test_every_service_line_is_json_and_a_traced_one_leads_to_its_trace(
        mesh: Mesh, channel_to, collector: OtlpCollector) -> None:
    account = await register(channel_to("auth"))
    media_id = await upload_media(channel_to("media"), account.tokens.access_token,
                                  b"these bytes are not a JPEG", "image/jpeg")
    await wait_for_status(channel_to("media"), account.tokens.access_token, media_id,
                          media_pb.MEDIA_STATUS_FAILED)
    worker_log = mesh.settings.log_dir / "svc-media_worker.log"

    async def failure_line() -> dict | None:
        for line in worker_log.read_text().splitlines():
            entry = json.loads(line)
            if media_id in entry["message"] and "failed" in entry["message"]:
                return entry
        return None

    line = await eventually(failure_line, lambda e: e is not None,
                            what="the worker's line about the failed media")
    assert line is not None and line["process"] == "media_worker"
    assert line["trace_id"] and line["span_id"]
    spans = await collector.wait_for(line["trace_id"], "photomesh-media_worker")
    assert any(s.span_id == line["span_id"] for s in spans)

    for name in SERVICES:
        for number, text in enumerate((mesh.settings.log_dir / f"svc-{name}.log")
                                      .read_text().splitlines(), 1):
            entry = json.loads(text)  # every line, start-up and shutdown included
            assert {"time", "level", "process", "logger", "message", "trace_id",
                    "span_id"} <= entry.keys(), f"svc-{name}.log:{number}"
