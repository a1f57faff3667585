"""Settings of the notification service (prefix ``PHOTOMESH_NOTIFICATION_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class NotificationSettings(ServerSettings):
    model_config = service_config("NOTIFICATION")

    port: int = Field(default=50057, ge=0, le=65535)
