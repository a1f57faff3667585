"""Settings of the notification service (prefix ``PHOTOMESH_NOTIFICATION_``) and of its
worker (prefix ``PHOTOMESH_NOTIFICATION_WORKER_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServerSettings, service_config


class _ReadModelSettings(ServerSettings):
    """What both processes set of the Redis read model (cache.py) and the social view."""

    cached_notifications: int = Field(
        default=200, ge=20, le=2000, description="newest notifications of a user kept in "
                                                 "Redis; older pages are read from CQL")
    social_view_ttl_seconds: int = Field(
        default=3600, ge=10, description="relations and summaries are refilled after this "
                                         "even without an event (bounds a lost event)")


class NotificationSettings(_ReadModelSettings):
    model_config = service_config("NOTIFICATION")

    port: int = Field(default=50057, ge=0, le=65535)
    page_token_secret: str | None = Field(
        default=None, min_length=8, description="None: derived from the mesh's service key")
    stream_queue_size: int = Field(default=256, ge=1,
                                   description="notifications buffered per connected stream "
                                               "before the slowest client is cut off")
    cache_active_seconds: int = Field(
        default=7 * 86400, ge=60, description="a user's cached inbox is dropped after this "
                                              "long without a read")
    cache_refill_seconds: int = Field(
        default=86400, ge=60, description="a cached inbox is rebuilt from CQL when its last "
                                          "fill is older (bounds what a lost Redis write "
                                          "could leave)")


class NotificationWorkerSettings(_ReadModelSettings):
    model_config = service_config("NOTIFICATION_WORKER")

    port: int = Field(default=50063, ge=0, le=65535)
    inbox_ttl_seconds: int = Field(default=90 * 86400, ge=60,
                                   description="how long a notification stays in the inbox")
    group_window_seconds: int = Field(
        default=6 * 3600, ge=1, description="repeats of one kind on one subject within this "
                                            "window join one notification")
    notify_followers_of_stories: bool = Field(
        default=True, description="a followee's new story (audience FOLLOWERS) notifies "
                                  "their followers")
    notify_followers_of_posts: bool = Field(
        default=False, description="a followee's new post notifies their followers (off by "
                                   "default: the feed already shows it)")
    fanout_max_followers: int = Field(
        default=2000, ge=0, description="authors with more followers than this notify nobody "
                                        "of new stories/posts (bounded fan-out)")
    fanout_concurrency: int = Field(default=32, ge=1)
    consume_concurrency: int = Field(
        default=32, ge=1, description="events of one subject handled at once by this worker "
                                      "(each acked after its inbox writes)")
