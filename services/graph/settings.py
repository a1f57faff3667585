"""Settings of the graph service (prefix ``PHOTOMESH_GRAPH_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.runtime.settings import ServerSettings, service_config


class GraphSettings(ServerSettings):
    model_config = service_config("GRAPH")

    port: int = Field(default=50052, ge=0, le=65535)
    page_token_secret: SecretStr | None = Field(
        default=None, description="seals page tokens; default: derived from the mesh's "
                                  "service key")
    count_cache_ttl_seconds: int = Field(
        default=3600, ge=10, description="follower/following counts in Redis are rebuilt "
                                         "from CQL at least this often (bounds any drift)")
