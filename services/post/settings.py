"""Settings of the post service (prefix ``PHOTOMESH_POST_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.runtime.settings import ServerSettings, service_config


class PostSettings(ServerSettings):
    model_config = service_config("POST")

    port: int = Field(default=50053, ge=0, le=65535)
    page_token_secret: SecretStr | None = Field(
        default=None, description="HMAC key of page tokens, the same on every replica; "
                                  "default: derived from the service's own key")
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
