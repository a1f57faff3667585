"""Settings of the story service (prefix ``PHOTOMESH_STORY_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.pending import OutboxSettings
from services.runtime.settings import service_config


class StorySettings(OutboxSettings):
    """Its rules' tunables, and its sweeper's timing (OutboxSettings: ``*_OUTBOX_*``)."""

    model_config = service_config("STORY")

    ttl_seconds: int = Field(default=86400, ge=1, le=7 * 86400,
                             description="how long a story stays live (then archived)")
    clock_offset_seconds: float = Field(
        default=0.0, ge=0, le=30 * 86400,
        description="added to the system clock for expiry and the archive job (0 in "
                    "production; tests run a process a day ahead to see stories expire "
                    "without waiting)")
    archive_interval_seconds: float = Field(
        default=30.0, gt=0, description="how often the archive job looks for expired stories")
    archive_lookback_seconds: int = Field(
        default=86400, ge=60, description="how far back a first archive run (no checkpoint "
                                          "yet) looks for expired stories")
    expiry_bucket_seconds: int = Field(
        default=60, ge=1, le=3600, description="width of the expiry-index partitions the "
                                               "archive job reads; never change on live data")
    cache_warm_seconds: int = Field(
        default=3600, ge=1, description="how long a per-author story set or per-viewer seen "
                                        "set stays in Redis before it is rebuilt from CQL")
    max_following: int = Field(default=5000, ge=1,
                               description="followees considered for one viewer's tray")
    social_view_ttl_seconds: int = Field(
        default=3600, ge=10, description="followee ids, relations and user summaries kept "
                                         "by graph events are refilled after this anyway")
