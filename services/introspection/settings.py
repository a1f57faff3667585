"""Settings of the introspection process (prefix ``PHOTOMESH_INTROSPECTION_``; its server
options, default port from services/processes.py, share the prefix)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config

#: The descriptor set `./photomesh gen` writes; the edge routes and transcodes from it.
DEFAULT_DESCRIPTOR_SET = (Path(__file__).resolve().parents[2] / "clients" / "descriptors"
                          / "photomesh.binpb")


class IntrospectionSettings(ServiceSettings):
    model_config = service_config("INTROSPECTION")

    descriptor_set: Path = Field(default=DEFAULT_DESCRIPTOR_SET,
                                 description="what reflection answers from")
    #: Every process of the mesh and where its replicas listen (JSON), e.g.
    #: ``{"post": ["10.0.0.4:50053", "10.0.0.5:50053"], "feed_fanout": ["fanout:50062"]}``.
    #: Names are resolved again every resolve_interval_seconds (one replica per address).
    targets: dict[str, list[str]] = Field(min_length=1)
    resolve_interval_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=2.0, gt=0,
                                     description="longest wait before re-watching a replica")
