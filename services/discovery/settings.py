"""Settings of the discovery service (prefix ``PHOTOMESH_DISCOVERY_``): search and explore,
and the tunables its indexer worker shares (the worker's server options are its own,
``PHOTOMESH_DISCOVERY_INDEXER_*``, like every process's)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config


class DiscoverySettings(ServiceSettings):
    model_config = service_config("DISCOVERY")

    # The inverted index (CQL): a term's rows are partitioned by time bucket.
    bucket_days: int = Field(default=7, ge=1, le=366,
                             description="days of posts per index partition of a term")
    max_page_size: int = Field(default=50, ge=1, le=100)
    scan_rounds: int = Field(default=6, ge=1, le=50,
                             description="index reads per page at most (hidden posts are "
                                         "skipped; a page may come back short)")

    # Engagement, top posts of a hashtag and hashtag counts (Redis).
    top_posts_per_hashtag: int = Field(default=500, ge=10, le=10_000)
    engagement_ttl_days: int = Field(default=90, ge=1,
                                     description="a post's counts live this long after "
                                                 "their last event")
    autocomplete_cap: int = Field(default=50, ge=5, le=1000,
                                  description="hashtags kept per autocomplete prefix")

    # Trending (hourly windows in Redis sorted sets).
    trending_window_hours: int = Field(default=48, ge=1, le=24 * 14)
    trending_half_life_hours: float = Field(default=12.0, gt=0)
    trending_cap: int = Field(default=2000, ge=50,
                              description="entries kept per hourly window")
    trending_snapshot_seconds: int = Field(default=60, ge=1,
                                           description="trending lists are rebuilt at most "
                                                       "this often")
    trending_list_size: int = Field(default=200, ge=10, le=1000)
    recent_public_cap: int = Field(default=500, ge=10, le=10_000,
                                   description="newest public posts kept for explore")

    # The explore page.
    explore_candidates: int = Field(default=300, ge=20, le=1000)
    explore_author_spacing: int = Field(default=5, ge=1, le=50,
                                        description="an author appears at most once in "
                                                    "this many consecutive items when "
                                                    "others are left")
    snapshot_ttl_seconds: int = Field(default=1800, ge=60,
                                      description="how long a listing's later pages stay "
                                                  "available")
    social_view_ttl_seconds: int = Field(default=3600, ge=10)
    liked_ttl_days: int = Field(default=7, ge=1,
                                description="a viewer's likes are kept this long after "
                                            "their last read")
    index_concurrency: int = Field(default=8, ge=1, le=64)
