"""Settings of the feed service (prefix ``PHOTOMESH_FEED_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class FeedSettings(ServerSettings):
    model_config = service_config("FEED")

    port: int = Field(default=50054, ge=0, le=65535)
