"""Settings of the graph service (prefix ``PHOTOMESH_GRAPH_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.pending import OutboxSettings
from services.runtime.settings import service_config


class GraphSettings(OutboxSettings):
    """Its rules' tunables, and its sweeper's timing (OutboxSettings: ``*_OUTBOX_*``)."""

    model_config = service_config("GRAPH")

    count_cache_ttl_seconds: int = Field(
        default=3600, ge=10, description="follower/following counts in Redis are rebuilt "
                                         "from CQL at least this often (bounds any drift)")
