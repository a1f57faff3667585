"""Settings of the post service (prefix ``PHOTOMESH_POST_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.pending import OutboxSettings
from services.runtime.settings import service_config


class PostSettings(OutboxSettings):
    """Its rules' tunables, and its sweeper's timing (OutboxSettings: ``*_OUTBOX_*``)."""

    model_config = service_config("POST")

    counter_ttl_seconds: int = Field(default=3600, ge=10,
                                     description="how long a cached count lives in Redis")
    body_ttl_seconds: int = Field(default=3600, ge=10,
                                  description="how long a cached post body lives in Redis")
    media_claim_grace_seconds: float = Field(
        default=60.0, gt=0, description="a media claim whose post was never written is "
                                        "abandoned (and may be taken over) after this")
    social_view_ttl_seconds: int = Field(
        default=3600, ge=10, description="cached relations and user summaries are refilled "
                                         "after this even without a graph event")
    liked_ttl_seconds: int = Field(default=86_400, ge=10,
                                   description="how long a viewer's cached likes live")
