"""Settings of the graph service (prefix ``PHOTOMESH_GRAPH_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class GraphSettings(ServerSettings):
    model_config = service_config("GRAPH")

    port: int = Field(default=50052, ge=0, le=65535)
