"""Settings of the notification service and its delivery worker (prefix
``PHOTOMESH_NOTIFICATION_``; each process's server options are its own:
``PHOTOMESH_NOTIFICATION_*`` and ``PHOTOMESH_NOTIFICATION_WORKER_*``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config


class NotificationSettings(ServiceSettings):
    model_config = service_config("NOTIFICATION")

    # The read model both processes keep (cache.py) and the social view.
    cached_notifications: int = Field(
        default=200, ge=20, le=2000, description="newest notifications of a user kept in "
                                                 "Redis; older pages are read from CQL")
    social_view_ttl_seconds: int = Field(
        default=3600, ge=10, description="relations and summaries are refilled after this "
                                         "even without an event (bounds a lost event)")
    cache_active_seconds: int = Field(
        default=7 * 86400, ge=60, description="a user's cached inbox is dropped after this "
                                              "long without a read")
    cache_refill_seconds: int = Field(
        default=86400, ge=60, description="a cached inbox is rebuilt from CQL when its last "
                                          "fill is older (bounds what a lost Redis write "
                                          "could leave)")

    # The service.
    stream_queue_size: int = Field(default=256, ge=1,
                                   description="notifications buffered per connected stream "
                                               "before the slowest client is cut off")

    # Delivery (the worker).
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
        default=32, ge=1, description="events of one subject handled at once by a worker "
                                      "(each acked after its inbox writes)")
