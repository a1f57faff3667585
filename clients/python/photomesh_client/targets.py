"""Where each photomesh service is reached: one place for the addresses.

Either everything through one edge (Envoy routes by gRPC path, so every service shares the
one address) or one address per service (inside the mesh: ``post:50053`` …), or both, a
service's own address winning over the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Targets:
    """gRPC targets (``host:port`` or any gRPC target URI) by service name (``post``)."""

    edge: str | None = None
    services: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.edge is None and not self.services:
            raise ValueError("Targets needs an edge address or per-service addresses")
        object.__setattr__(self, "services", MappingProxyType(dict(self.services)))

    def address(self, service: str) -> str:
        """The target of `service` (the mesh name: ``auth``, ``graph``, ``post`` …)."""
        found = self.services.get(service, self.edge)
        if found is None:
            known = ", ".join(sorted(self.services))
            raise LookupError(f"no address for service {service!r} (known: {known}; "
                              "give Targets an edge address or one for this service)")
        return found
