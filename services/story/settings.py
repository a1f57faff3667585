"""Settings of the story service (prefix ``PHOTOMESH_STORY_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class StorySettings(ServerSettings):
    model_config = service_config("STORY")

    port: int = Field(default=50055, ge=0, le=65535)
