"""Settings of the media service (prefix ``PHOTOMESH_MEDIA_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class MediaSettings(ServerSettings):
    model_config = service_config("MEDIA")

    port: int = Field(default=50056, ge=0, le=65535)
