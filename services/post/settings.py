"""Settings of the post service (prefix ``PHOTOMESH_POST_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class PostSettings(ServerSettings):
    model_config = service_config("POST")

    port: int = Field(default=50053, ge=0, le=65535)
