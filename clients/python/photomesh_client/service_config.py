"""The gRPC service config of a channel: retries of idempotent reads, done by gRPC itself.

gRPC retries a read (contracts.is_read) that failed with UNAVAILABLE, with exponential
backoff, within the call's deadline; nothing else is retried, so a write is never sent
twice by the client. Retry throttling stops retries when most calls fail (a down service is
not hammered). See https://github.com/grpc/proposal/blob/master/A6-client-retries.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor

from photomesh_client.contracts import read_methods


@dataclass(frozen=True)
class RetryPolicy:
    """How reads are retried on UNAVAILABLE. `max_attempts` counts the first try (gRPC
    caps it at 5); the n-th retry waits a random time up to
    min(initial_backoff * multiplier**(n-1), max_backoff) seconds."""

    max_attempts: int = 3
    initial_backoff: float = 0.1
    max_backoff: float = 1.0
    backoff_multiplier: float = 2.0
    #: Retries stop while fewer than half of these tokens remain; each failure takes one,
    #: each success gives back `throttle_token_ratio`.
    throttle_max_tokens: int = 10
    throttle_token_ratio: float = 0.1

    def __post_init__(self) -> None:
        if not 2 <= self.max_attempts <= 5:
            raise ValueError("max_attempts must be 2-5 (gRPC's limit); pass retry=None "
                             "to the Client to turn retries off")
        if self.initial_backoff <= 0 or self.max_backoff <= 0 or self.backoff_multiplier <= 0:
            raise ValueError("backoffs and multiplier must be positive")


def _seconds(value: float) -> str:
    return f"{value:.9g}s"


def service_config(service: ServiceDescriptor, retry: RetryPolicy | None) -> dict[str, Any]:
    """The service config (as a dict) for a channel that calls `service`."""
    if retry is None:
        return {}
    reads = read_methods(service)
    if not reads:
        return {}
    return {
        "methodConfig": [{
            "name": [{"service": service.full_name, "method": name} for name in reads],
            "retryPolicy": {
                "maxAttempts": retry.max_attempts,
                "initialBackoff": _seconds(retry.initial_backoff),
                "maxBackoff": _seconds(retry.max_backoff),
                "backoffMultiplier": retry.backoff_multiplier,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }],
        "retryThrottling": {"maxTokens": retry.throttle_max_tokens,
                            "tokenRatio": retry.throttle_token_ratio},
    }


def channel_options(service: ServiceDescriptor, retry: RetryPolicy | None
                    ) -> list[tuple[str, Any]]:
    """Channel options carrying the service config (and ignoring any a DNS resolver might
    publish, so behaviour does not depend on DNS)."""
    config = service_config(service, retry)
    return [("grpc.enable_retries", 1 if config else 0),
            ("grpc.service_config", json.dumps(config)),
            ("grpc.service_config_disable_resolution", 1)]
