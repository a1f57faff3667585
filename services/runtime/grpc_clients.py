"""Channels to peer services: traced, forwarding the caller's token and deadline."""

from __future__ import annotations

from grpc import aio

from services.runtime import telemetry
from services.runtime.interceptors import forwarding_interceptors


def peer_channel(target: str, max_message_bytes: int = 16 * 1024 * 1024) -> aio.Channel:
    """An insecure loopback/mesh channel to `target` (host:port).

    Calls are spread round-robin over every address the name resolves to (in Kubernetes a
    headless Service's name resolves to its ready pods; servers with
    max_connection_age_seconds make clients re-resolve now and then). Interceptor order:
    tracing outermost so the client span covers the forwarded call.
    """
    interceptors = [*telemetry.client_interceptors(), *forwarding_interceptors()]
    return aio.insecure_channel(
        target,
        interceptors=interceptors,  # type: ignore[arg-type]
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
            ("grpc.lb_policy_name", "round_robin"),
        ],
    )
