"""Settings of the feed (prefix ``PHOTOMESH_FEED_``): the timeline tunables its processes
share, the service and its fan-out worker (whose server options are its own,
``PHOTOMESH_FEED_FANOUT_*``, like every process's)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config


class FeedSettings(ServiceSettings):
    model_config = service_config("FEED")

    # Timelines in the CQL store: bounded in time (TTL per row) and in length (reads stop
    # at max_items, and a read that gets there trims the rest with one range delete).
    timeline_ttl_days: int = Field(default=30, ge=1, le=365)
    timeline_max_items: int = Field(default=1500, ge=10)
    # Timelines in Redis: only for users who read their feed in the last active_days.
    cache_cap: int = Field(default=800, ge=5, description="entries per cached timeline")
    active_days: int = Field(default=7, ge=1)
    author_cache_cap: int = Field(default=100, ge=5, description="recent posts per author")

    # Fan-out.
    celebrity_threshold: int = Field(
        default=10_000, ge=1, description="authors with more followers are merged at read")
    follower_page_size: int = Field(default=500, ge=1, le=5000)
    backfill_posts: int = Field(default=20, ge=0, le=200,
                                description="recent posts copied on a new follow")
    cql_batch_rows: int = Field(default=125, ge=1, le=500,
                                description="timeline rows per unlogged CQL batch")
    fanout_inline_batches: int = Field(
        default=2, ge=1, le=20,
        description="follower pages the post-created handler writes itself (no task hop)")
    fanout_concurrency: int = Field(default=8, ge=1, le=64,
                                    description="fan-out tasks handled at once per worker")

    # Reading.
    max_page_size: int = Field(default=50, ge=1, le=100)
    ranked_window: int = Field(default=100, ge=10, le=500,
                               description="newest candidates the ranked mode scores")
    ranked_snapshot_seconds: int = Field(default=900, ge=30)
    ranked_half_life_hours: float = Field(default=24.0, gt=0)
    affinity_ttl_days: int = Field(default=30, ge=1)
    following_cache_seconds: int = Field(default=600, ge=1)

    # The read model (post_cards.py, services/peers/social_view.py).
    social_view_ttl_seconds: int = Field(
        default=3600, ge=10, description="relations and summaries are refilled after this "
                                         "even without an event (bounds a lost event)")
    cold_count_ttl_seconds: int = Field(
        default=600, ge=10, description="counts filled from the post service (not built "
                                        "from events) are refilled after this")
